"""``python -m facechain.cli ...`` (e.g. under ``accelerate launch -m facechain.cli train ...``)."""

import sys

from . import main

sys.exit(main())
