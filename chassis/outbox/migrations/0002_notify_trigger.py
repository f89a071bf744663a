"""On PostgreSQL, every INSERT into the outbox NOTIFYs `chassis_outbox` (delivered at commit), so the relay
wakes at once instead of polling an empty table (chassis/pg_listen.py). SQLite: nothing (the relay polls)."""

from django.db import migrations

CHANNEL = "chassis_outbox"

CREATE = f"""
CREATE OR REPLACE FUNCTION chassis_outbox_notify() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('{CHANNEL}', '');
    RETURN NULL;
END
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS chassis_outbox_notify ON chassis_outbox_event;
CREATE TRIGGER chassis_outbox_notify AFTER INSERT ON chassis_outbox_event
    FOR EACH STATEMENT EXECUTE FUNCTION chassis_outbox_notify();
"""
DROP = """
DROP TRIGGER IF EXISTS chassis_outbox_notify ON chassis_outbox_event;
DROP FUNCTION IF EXISTS chassis_outbox_notify();
"""


def _run(sql):
    def apply(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql)

    return apply


class Migration(migrations.Migration):
    dependencies = [("chassis_outbox", "0001_initial")]

    operations = [migrations.RunPython(_run(CREATE), _run(DROP), elidable=False)]
