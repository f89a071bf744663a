# One image for every strangler process (monolith, sandbox, gateway, the extracted services, their
# consumers and relays, the shadow comparator); the compose file picks the command.
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY . /app
RUN pip install . \
    && useradd --system --home /app strangler \
    && mkdir -p /app/var/shared && chown -R strangler /app/var
USER strangler

# monolith, gateway, Product service, Auth service
EXPOSE 8000 8080 8101 8102
CMD ["gunicorn", "legacy_monolith.wsgi", "-b", "0.0.0.0:8000", "-w", "2", "-k", "gthread", "--threads", "4"]
