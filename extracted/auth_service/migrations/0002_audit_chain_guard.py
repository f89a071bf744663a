"""The audit chain's head row, and on PostgreSQL a trigger that refuses UPDATE and DELETE of entries
(append-only; the hash chain still catches whoever disables the trigger)."""

from django.db import migrations

GENESIS = "0" * 64

APPEND_ONLY = """
CREATE OR REPLACE FUNCTION auth_service_audit_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'auth_service_audit_entry is append-only';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER auth_service_audit_append_only
    BEFORE UPDATE OR DELETE ON auth_service_audit_entry
    FOR EACH ROW EXECUTE FUNCTION auth_service_audit_append_only();
"""
DROP_APPEND_ONLY = """
DROP TRIGGER IF EXISTS auth_service_audit_append_only ON auth_service_audit_entry;
DROP FUNCTION IF EXISTS auth_service_audit_append_only();
"""


def create_head(apps, schema_editor):
    apps.get_model("auth_service", "AuditHead").objects.get_or_create(id=1, defaults={"hash": GENESIS})


def guard(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(APPEND_ONLY)


def unguard(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_APPEND_ONLY)


class Migration(migrations.Migration):
    dependencies = [("auth_service", "0001_initial")]

    operations = [
        migrations.RunPython(create_head, migrations.RunPython.noop),
        migrations.RunPython(guard, unguard),
    ]
