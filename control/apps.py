from django.apps import AppConfig


class ControlConfig(AppConfig):
    """Guarded rollouts, evidence gates and traffic replay (`manage.py rollout|traffic`); state in the
    `control` database. Registers the evidence gates as the flags commands' gate check."""

    name = "control"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from control.gates.hook import install

        install()
