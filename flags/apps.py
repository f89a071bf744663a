from django.apps import AppConfig


class FlagsAppConfig(AppConfig):
    """Installs the `flags` management command in the monolith's manage.py."""

    name = "flags"
    verbose_name = "Feature flags"
