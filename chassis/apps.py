from django.apps import AppConfig


class ChassisConfig(AppConfig):
    """The chassis as a Django app: its management commands (serve, relay_outbox, consume) and models."""

    name = "chassis"
    label = "chassis"
    default_auto_field = "django.db.models.BigAutoField"
