# FaceChain Studio web app: docker build -t facechain . && docker run -p 7860:7860 facechain
FROM python:3.11-slim
ENV PIP_NO_CACHE_DIR=1 PYTHONUNBUFFERED=1 GRADIO_SERVER_NAME=0.0.0.0 GRADIO_SERVER_PORT=7860
RUN useradd --create-home --uid 1000 studio
WORKDIR /home/studio/app
COPY pyproject.toml README.md app.py ./
COPY facechain facechain
COPY sude sude
COPY pipelines pipelines
COPY models models
RUN pip install .
USER studio
EXPOSE 7860
CMD ["python", "app.py"]
