from django.apps import AppConfig


class ChassisConfig(AppConfig):
    """The chassis as a Django app: its management commands (serve, relay_outbox, consume, worker, beat,
    events) and models."""

    name = "chassis"
    label = "chassis"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # The service's Celery app becomes the default one before any task is sent (chassis/celery_app.py).
        from chassis import celery_app  # noqa: F401
