# One image for every strangler process (monolith, sandbox, gateway, the extracted services, their consumers
# and relays, the shadow comparator, the bootstrap and backup jobs); deploy/topology.py picks each command.
# Debian bookworm: its postgresql-client (15) matches the PostgreSQL servers of docker-compose.yml, so the
# backup job's pg_dump/pg_restore work against them.
FROM python:3.12-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN apt-get update \
    && apt-get install -y --no-install-recommends postgresql-client \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY . /app
RUN pip install . \
    && useradd --system --uid 10001 --home /app strangler \
    && mkdir -p /app/var && chown -R strangler /app/var
# the compose file and the manifests run every container with a read-only root filesystem: /app/var and
# /tmp are the writable mounts
USER 10001

# monolith (+ internal), gateway (+ metrics), Product and Auth services (+ internal), sandbox
EXPOSE 8000 9000 8080 9464 8101 9101 8102 9102 8900
CMD ["python", "-m", "deploy.probe"]
