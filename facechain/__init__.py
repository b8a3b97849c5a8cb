"""FaceChain Studio: personalized portraits, motion prediction and a recognition lab.

Every capability is a plain Python API first (``facechain.faces``, ``facechain.portrait``);
the CLI (``facechain ...``) and the Gradio app are thin layers over it.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
