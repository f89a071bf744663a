from django.apps import AppConfig


class MigrationsDataConfig(AppConfig):
    name = "migrations_data"
    label = "migrations_data"
    verbose_name = "Data migration (backfill, outbox follow, verify)"
