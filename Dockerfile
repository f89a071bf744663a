# One image for every strangler process (monolith, sandbox, later the gateway and services); the
# compose file picks the command.
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY . /app
RUN pip install . \
    && useradd --system --home /app strangler \
    && mkdir -p /app/var && chown strangler /app/var
USER strangler

EXPOSE 8000
CMD ["gunicorn", "legacy_monolith.wsgi", "-b", "0.0.0.0:8000", "-w", "2", "-k", "gthread", "--threads", "4"]
