from django.apps import AppConfig


class AuthServiceConfig(AppConfig):
    name = "extracted.auth_service"
    label = "auth_service"
    default_auto_field = "django.db.models.BigAutoField"
