"""The ``facechain`` command: a thin layer over the Python API, one module per command group.

Only ``FacechainError`` is caught, printed as one line and turned into its exit code (see
``facechain.errors``); any other exception is a bug and keeps its traceback (exit code 1).
"""

from __future__ import annotations

import sys

from ..errors import ExitCode, FacechainError
from .common import HelpFormatter, Parser
from .generate import add_generate_commands
from .jobs import add_jobs_commands
from .lab import add_lab_commands
from .motion import add_motion_commands
from .prepare import add_prepare_commands
from .serve import add_serve_command
from .train import add_train_command

EXIT_CODES = """exit codes:
  0    done
  1    an unexpected failure (a bug: its traceback is printed)
  2    nothing usable (e.g. no usable photo; the reasons are listed)
  3    bad arguments (the message names the option or file and what to do)
  4    environment (a base model, package or file that is not there, or offline)
  130  interrupted (checkpoints written so far are kept: --resume)"""


def build_parser() -> Parser:
    parser = Parser(
        prog="facechain",
        formatter_class=HelpFormatter,
        epilog=EXIT_CODES,
        description="FaceChain Studio: personalized portraits from a few photos (prepare -> train -> "
        "generate), HumanMAC motion prediction and a recognition/robustness lab.",
    )
    commands = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", help="`facechain COMMAND --help` explains each one"
    )
    add_prepare_commands(commands)
    add_train_command(commands)
    add_generate_commands(commands)
    add_motion_commands(commands)
    add_lab_commands(commands)
    add_serve_command(commands)
    add_jobs_commands(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    from .. import quiet

    args = build_parser().parse_args(argv)
    quiet.install()
    try:
        return args.run(args)
    except FacechainError as error:
        print(f"error: {error}", file=sys.stderr)
        return int(error.exit_code)
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return int(ExitCode.INTERRUPTED)


__all__ = ["build_parser", "main"]
