from pathlib import Path

from django.apps import AppConfig


class ChassisConfig(AppConfig):
    """The chassis as a Django app: its management commands (serve, relay_outbox, consume, worker, beat,
    events) and models."""

    default = True
    name = "chassis"
    label = "chassis"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # The service's Celery app becomes the default one before any task is sent (chassis/celery_app.py).
        from chassis import celery_app  # noqa: F401


class ChassisModelsConfig(ChassisConfig):
    """The chassis's models alone, for the monolith (the processed-event ids of `sync <entity> receive`).

    The chassis's commands serve a service (`python -m extracted.<service> serve|consume|...`): in the
    monolith they have no SERVICE_PORT, EVENT_SOURCE or consumers and crashed, so its manage.py does not
    list them. Django finds an app's commands under `path`; this config points it at a folder without a
    `management` package (the chassis ships no templates, static files or translations that `path` would
    also locate, and migrations are found by module name, not by path)."""

    default = False
    path = str(Path(__file__).resolve().parent / "migrations")
