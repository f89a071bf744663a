from django.apps import AppConfig


class AuthServiceConfig(AppConfig):
    name = "extracted.auth_service"
    label = "auth_service"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import openapi  # noqa: F401 (registers the bearer JWT scheme with drf-spectacular)
