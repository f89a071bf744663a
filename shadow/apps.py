from django.apps import AppConfig


class ShadowConfig(AppConfig):
    """The comparator's results (its own database, alias `shadow`) and the `shadow` management command."""

    name = "shadow"
    default_auto_field = "django.db.models.BigAutoField"
