# earshot in a container: slim Python, no system ffmpeg (PyAV's wheel ships the libraries),
# running as an unprivileged user. Settings come from the environment (docker run --env-file .env).
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
ENV DATA_DIR=/home/earshot/data
VOLUME ["/home/earshot/data"]
CMD ["python", "-m", "bot"]
