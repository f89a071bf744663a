from django.apps import AppConfig


class NotificationServiceConfig(AppConfig):
    name = "extracted.notification_service"
    label = "notification_service"
    default_auto_field = "django.db.models.BigAutoField"
