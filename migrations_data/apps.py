from django.apps import AppConfig
from django.db.models.signals import post_migrate

TRIGGERS_MIGRATION = ("migrations_data", "0002_outbox_triggers")


def _ensure_outbox_triggers(sender, using, **kwargs) -> None:
    """After every migrate: put back outbox triggers a table rebuild dropped (SQLite's ALTER does)."""
    from django.db import connections, router
    from django.db.migrations.recorder import MigrationRecorder

    from .outbox.triggers import SUPPORTED_VENDORS, ensure_triggers

    if not router.allow_migrate(using, "migrations_data"):
        return  # another service's alias (the comparator's `shadow` database) has no catalog tables
    connection = connections[using]
    if connection.vendor not in SUPPORTED_VENDORS:
        return  # migration 0002 already refused this database
    if TRIGGERS_MIGRATION in MigrationRecorder(connection).applied_migrations():
        ensure_triggers(connection)


class MigrationsDataConfig(AppConfig):
    name = "migrations_data"
    label = "migrations_data"
    verbose_name = "Data migration (backfill, outbox follow, verify)"

    def ready(self) -> None:
        post_migrate.connect(_ensure_outbox_triggers, sender=self, dispatch_uid="migrations_data_triggers")
