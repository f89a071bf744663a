from django.apps import AppConfig


class OutboxConfig(AppConfig):
    name = "chassis.outbox"
    label = "chassis_outbox"
    default_auto_field = "django.db.models.BigAutoField"
