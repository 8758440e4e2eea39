# Photo Album Organizer — the companion service for Immich.
#   docker build -t photo-organizer .
#   docker run -p 8080:8080 --env-file .env -v organizer-state:/data/state photo-organizer
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PHOTO_ORGANIZER_MODELS=/app/models \
    STATE_DIR=/data/state \
    BIND=0.0.0.0:8080

WORKDIR /app

# Dependencies first (pinned by constraints.txt), so code changes rebuild only the last layers.
COPY pyproject.toml constraints.txt README.md ./
COPY organizer ./organizer
COPY immich_client ./immich_client
COPY batch ./batch
COPY service ./service
RUN pip install -c constraints.txt . \
 && python -m organizer.model_store fetch \
 && python -m organizer.model_store check

# An unprivileged user; the state (pickle index, journals, queue) lives in a volume.
RUN useradd --system --uid 10001 --no-create-home --home-dir /nonexistent organizer \
 && mkdir -p /data/state \
 && chown organizer /data/state
USER organizer
VOLUME ["/data/state"]
EXPOSE 8080

HEALTHCHECK --interval=30s --timeout=5s --start-period=40s --retries=3 \
  CMD ["python", "-c", "import os, sys, urllib.request; port = os.environ.get('BIND', '0.0.0.0:8080').rsplit(':', 1)[1]; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:' + port + '/healthz', timeout=4).status == 200 else 1)"]

# gunicorn gets SIGTERM from `docker stop`: the running pass saves its state within
# GRACEFUL_TIMEOUT (25 s); give the container at least 30 s (stop_grace_period).
STOPSIGNAL SIGTERM
CMD ["gunicorn", "-c", "/app/service/gunicorn.conf.py"]
