# earshot in a container: slim Python, no system ffmpeg (PyAV's wheel ships the libraries) and no
# system eSpeak (espeakng-loader's wheel ships it), running as an unprivileged user. Settings come
# from the environment (docker run --env-file .env). The local engine keeps the Whisper models and
# the Piper voice it downloads in DATA_DIR/models, on the volume, so they are fetched once, not on
# every start.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN useradd --create-home --uid 10001 earshot
WORKDIR /app

COPY pyproject.toml README.md ./
COPY bot ./bot
COPY cogs ./cogs
RUN pip install .

USER earshot
# The health and metrics endpoints, when METRICS_PORT is set, listen on the container's
# interfaces: its 127.0.0.1 is unreachable from outside, whatever port is published.
ENV DATA_DIR=/home/earshot/data \
    METRICS_HOST=0.0.0.0
VOLUME ["/home/earshot/data"]
CMD ["python", "-m", "bot"]
