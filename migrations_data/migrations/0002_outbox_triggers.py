"""Database triggers: every INSERT/UPDATE of a product or category gets a new `sync_version`, and every
INSERT/UPDATE/DELETE writes an OutboxEvent row in the same transaction.

Why triggers (and not model signals or logical decoding), and what exactly they do: see the docstring
of migrations_data/outbox/triggers.py, whose SQL this migration installs. PostgreSQL and SQLite only;
other database vendors are refused with NotSupportedError.
"""

from django.db import migrations

from migrations_data.outbox.triggers import triggers_install, triggers_uninstall


def install(apps, schema_editor):
    triggers_install(schema_editor.connection)


def uninstall(apps, schema_editor):
    triggers_uninstall(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [
        ("migrations_data", "0001_initial"),
        ("catalog", "0003_sync_version"),
    ]

    operations = [migrations.RunPython(install, uninstall)]
