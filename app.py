"""`python app.py`: the FaceChain Studio web app (also the Hugging Face Spaces entry point).

Listens on 127.0.0.1:7860 unless GRADIO_SERVER_NAME / GRADIO_SERVER_PORT say otherwise.
"""

from facechain.ui import build_app

if __name__ == "__main__":
    build_app().queue(default_concurrency_limit=1).launch(max_file_size="25mb")
