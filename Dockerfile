# FaceChain Studio web app: docker build -t facechain . && docker run -p 7860:7860 -e FACECHAIN_AUTH=me:long-secret facechain
# It listens on all interfaces, so it asks for a login: FACECHAIN_AUTH's users, else the user "facechain"
# with a random password printed at start-up (docker logs). Workspaces and jobs live in /home/studio/app/runs:
# mount a volume there to keep them across container restarts.
FROM python:3.11-slim
ENV PIP_NO_CACHE_DIR=1 PYTHONUNBUFFERED=1 GRADIO_SERVER_NAME=0.0.0.0 GRADIO_SERVER_PORT=7860
RUN useradd --create-home --uid 1000 studio
WORKDIR /home/studio/app
COPY pyproject.toml README.md app.py constraints.txt ./
COPY facechain facechain
COPY sude sude
COPY pipelines pipelines
COPY models models
# The CPU build of the locked torch (the default PyPI wheel is the multi-GB CUDA build), then the rest of the lock.
RUN pip install --index-url https://download.pytorch.org/whl/cpu torch==2.13.0 && pip install -c constraints.txt .
USER studio
EXPOSE 7860
CMD ["python", "app.py"]
