"""`python app.py`: the FaceChain Studio web app (also the Hugging Face Spaces entry point); the same
as `facechain serve`.

Listens on 127.0.0.1:7860 unless GRADIO_SERVER_NAME / GRADIO_SERVER_PORT say otherwise; keeps the
workspaces and the job queue in ./runs unless FACECHAIN_RUNS names another folder (/data/runs on a Space
with persistent storage).
"""

import os

from facechain.ui import serve

if __name__ == "__main__":
    serve(runs_root=os.environ.get("FACECHAIN_RUNS", "runs"))
