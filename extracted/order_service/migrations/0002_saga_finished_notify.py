"""On PostgreSQL, a saga that reaches completed or compensated NOTIFYs `order_saga_finished` with its order
id (delivered at commit), so a v1 checkout waiting for its outcome is woken at once instead of polling the
saga row (apis/orders.py: saga_outcome). SQLite: nothing (the wait polls)."""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION order_saga_finished_notify() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('order_saga_finished', NEW.order_id::text);
    RETURN NULL;
END
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS order_saga_finished_notify ON order_service_saga;
CREATE TRIGGER order_saga_finished_notify AFTER INSERT OR UPDATE OF state ON order_service_saga
    FOR EACH ROW WHEN (NEW.state IN ('completed', 'compensated'))
    EXECUTE FUNCTION order_saga_finished_notify();
"""
DROP = """
DROP TRIGGER IF EXISTS order_saga_finished_notify ON order_service_saga;
DROP FUNCTION IF EXISTS order_saga_finished_notify();
"""


def _run(sql):
    def apply(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql)

    return apply


class Migration(migrations.Migration):
    dependencies = [("order_service", "0001_initial")]

    operations = [migrations.RunPython(_run(CREATE), _run(DROP), elidable=False)]
