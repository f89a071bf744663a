"""Payment and refund ids start at contracts.payment.SERVICE_ID_START (the monolith counts from 1, so a
payment keeps one id on both sides of the sync); on PostgreSQL the audit entries are append-only (a
trigger refuses UPDATE and DELETE; the hash chain still catches whoever disables it)."""

from django.db import migrations

SERVICE_ID_START = 1_000_000_000_001  # contracts.payment.SERVICE_ID_START, frozen here

APPEND_ONLY = """
CREATE OR REPLACE FUNCTION payment_service_audit_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'payment_service_auditentry is append-only';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER payment_service_audit_append_only
    BEFORE UPDATE OR DELETE ON payment_service_auditentry
    FOR EACH ROW EXECUTE FUNCTION payment_service_audit_append_only();
"""
DROP_APPEND_ONLY = """
DROP TRIGGER IF EXISTS payment_service_audit_append_only ON payment_service_auditentry;
DROP FUNCTION IF EXISTS payment_service_audit_append_only();
"""
TABLES = ("payment_service_payment", "payment_service_refund")


def forward(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        for table in TABLES:
            schema_editor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), {SERVICE_ID_START}, false)"
            )
        schema_editor.execute(APPEND_ONLY)
    elif vendor == "sqlite":
        for table in TABLES:
            schema_editor.execute("DELETE FROM sqlite_sequence WHERE name = %s", [table])
            schema_editor.execute(
                "INSERT INTO sqlite_sequence (name, seq) VALUES (%s, %s)", [table, SERVICE_ID_START - 1]
            )


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_APPEND_ONLY)


class Migration(migrations.Migration):
    dependencies = [("payment_service", "0001_initial")]

    operations = [migrations.RunPython(forward, backward)]
