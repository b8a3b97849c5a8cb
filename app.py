"""`python app.py`: the FaceChain Studio web app (also the Hugging Face Spaces entry point); the same
as `facechain serve`.

Listens on 127.0.0.1:7860 unless GRADIO_SERVER_NAME / GRADIO_SERVER_PORT say otherwise.
"""

from facechain.ui import serve

if __name__ == "__main__":
    serve()
