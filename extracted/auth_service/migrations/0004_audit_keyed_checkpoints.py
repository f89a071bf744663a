"""Audit keys: the head row's signature, and the checkpoint table (append-only on PostgreSQL, like the
entries). A chain written before keys is continued by a link entry at the next append
(extracted/auth_service/audit.py)."""

from django.db import migrations, models

APPEND_ONLY = """
CREATE OR REPLACE FUNCTION auth_service_audit_checkpoint_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'auth_service_audit_checkpoint is append-only';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER auth_service_audit_checkpoint_append_only
    BEFORE UPDATE OR DELETE ON auth_service_audit_checkpoint
    FOR EACH ROW EXECUTE FUNCTION auth_service_audit_checkpoint_append_only();
"""
DROP_APPEND_ONLY = """
DROP TRIGGER IF EXISTS auth_service_audit_checkpoint_append_only ON auth_service_audit_checkpoint;
DROP FUNCTION IF EXISTS auth_service_audit_checkpoint_append_only();
"""


def guard(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(APPEND_ONLY)


def unguard(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_APPEND_ONLY)


class Migration(migrations.Migration):
    dependencies = [("auth_service", "0003_user_sync_fields")]

    operations = [
        migrations.AddField(
            model_name="audithead",
            name="signature",
            field=models.CharField(blank=True, default="", max_length=64),
        ),
        migrations.CreateModel(
            name="AuditCheckpoint",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("chain", models.CharField(max_length=200)),
                ("seq", models.BigIntegerField()),
                ("hash", models.CharField(max_length=64)),
                ("at", models.CharField(max_length=40)),
                ("sig", models.CharField(max_length=64)),
            ],
            options={
                "db_table": "auth_service_audit_checkpoint",
                "indexes": [models.Index(fields=["chain", "seq"], name="auth_audit_checkpoint_seq")],
            },
        ),
        migrations.RunPython(guard, unguard),
    ]
