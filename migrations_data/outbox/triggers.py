"""Database triggers that version catalog rows and write the outbox in the changing transaction.

Why triggers, and not the alternatives:
- Django model signals (post_save/post_delete) only see `Model.save()` and `Model.delete()`; they miss
  `QuerySet.update()`, `bulk_create()`, `bulk_update()`, `QuerySet.delete()` fast paths and every raw
  SQL statement (migrations, DBA fixes, other programs on the same database). A missed change is a
  silent, permanent difference between the monolith and the Product service.
- Logical decoding (Debezium and friends) catches everything too, but needs `wal_level=logical`, a
  replication slot that must be watched (a forgotten slot fills the disk), a Kafka Connect style
  runtime, and does not exist at all on SQLite, the embedded profile.
- A trigger runs inside the writing transaction whatever wrote the row, so the outbox row commits or
  rolls back with the change: the transactional outbox with no application code to forget.

What the triggers do, per catalog table (catalog_product, catalog_category):
- `sync_version`: every INSERT or UPDATE sets the row's sync_version to the next value of one global
  counter (a PostgreSQL sequence; a one-row counter table on SQLite). Under concurrency the row lock
  orders two updates of one row, so a row's versions grow in commit order.
- the outbox: every INSERT/UPDATE writes an OutboxEvent (entity, entity_id, 'upsert', the new version);
  a DELETE writes (entity, entity_id, 'delete', a FRESH version from the counter), so a tombstone is
  always newer than every upsert of that row.
- a category whose name or slug changes re-versions the products in it: the category is embedded in
  the product document, so those documents changed too.

PostgreSQL: a BEFORE ROW trigger sets the version (cheap: one nextval), and AFTER STATEMENT triggers
with transition tables write the outbox with one INSERT ... SELECT per statement, so bulk inserts and
bulk updates pay one extra statement, not one per row. SQLite: BEFORE triggers cannot change NEW, so
AFTER ROW triggers bump the counter, store the version on the row (flagged `busy` so that write is
not itself a change) and write the outbox; this relies on SQLite's default `recursive_triggers = OFF`
(Django never turns it on). Other vendors are refused.

Not caught (documented limits): PostgreSQL TRUNCATE (no row triggers fire), and writes made with
`session_replication_role = replica`. SQLite rebuilds a table (and drops its triggers) when a later
migration alters a column, so `ensure_triggers()` runs after every `migrate` and reinstalls what is
missing.
"""

# ruff: noqa: S608 -- the SQL is built from this module's constant table names only, never from input

from __future__ import annotations

from django.db import NotSupportedError
from django.db.backends.base.base import BaseDatabaseWrapper

OUTBOX_TABLE = "migrations_data_outboxevent"
SEQUENCE = "migrations_data_sync_version_seq"  # PostgreSQL
COUNTER_TABLE = "migrations_data_sync_counter"  # SQLite
# entity name in the outbox -> table
TABLES = {"product": "catalog_product", "category": "catalog_category"}
PRODUCT_TABLE = TABLES["product"]
CATEGORY_TABLE = TABLES["category"]
SUPPORTED_VENDORS = ("postgresql", "sqlite")


def _check_vendor(connection: BaseDatabaseWrapper) -> str:
    if connection.vendor not in SUPPORTED_VENDORS:
        raise NotSupportedError(
            f"the sync outbox triggers exist for PostgreSQL and SQLite only; database "
            f"{connection.alias!r} is {connection.vendor}. Run the monolith on PostgreSQL (services "
            f"profile) or SQLite (embedded profile) to use `sync products follow`."
        )
    return connection.vendor


# The newest version anything already carries: a (re)created counter starts above it, or versions would
# go backwards after a reverse-and-reapply of migration 0002 and the consumer would drop new changes as stale.
_HIGHEST_VERSION = (
    f"SELECT MAX(v) FROM (SELECT MAX(sync_version) AS v FROM {PRODUCT_TABLE} "
    f"UNION ALL SELECT MAX(sync_version) FROM {CATEGORY_TABLE} "
    f"UNION ALL SELECT MAX(version) FROM {OUTBOX_TABLE}) AS seen"
)


def trigger_names(vendor: str) -> dict[str, str]:
    """trigger name -> table, every trigger `vendor` needs (SQLite sets versions in the outbox triggers)."""
    names = {}
    for table in TABLES.values():
        if vendor == "postgresql":
            names[f"{table}_sync_version"] = table
        for event in ("insert", "update", "delete"):
            names[f"{table}_outbox_{event}"] = table
    names[f"{CATEGORY_TABLE}_renamed"] = CATEGORY_TABLE
    return names


# --- PostgreSQL ---------------------------------------------------------------------------------

# The writing request's trace id (migrations_data.outbox.trace), so the catalog event continues its trace.
TRACE_SETTING = "strangler.trace_id"
_PG_TRACE = f"left(coalesce(current_setting('{TRACE_SETTING}', true), ''), 32)"


def _pg_install_sql() -> list[str]:
    statements = [
        f"CREATE SEQUENCE IF NOT EXISTS {SEQUENCE} AS bigint",
        f"SELECT setval('{SEQUENCE}', "
        f"GREATEST(({_HIGHEST_VERSION}), (SELECT last_value FROM {SEQUENCE}), 1))",
        f"""
        CREATE OR REPLACE FUNCTION migrations_data_sync_version_next() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            NEW.sync_version := nextval('{SEQUENCE}');
            RETURN NEW;
        END $$
        """,
        f"""
        CREATE OR REPLACE FUNCTION migrations_data_outbox_upserted() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO {OUTBOX_TABLE} (entity, entity_id, op, version, created_at, attempts, trace_id)
            SELECT TG_ARGV[0], id, 'upsert', sync_version, clock_timestamp(), 0, {_PG_TRACE}
            FROM changed_rows ORDER BY id;
            RETURN NULL;
        END $$
        """,
        f"""
        CREATE OR REPLACE FUNCTION migrations_data_outbox_deleted() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO {OUTBOX_TABLE} (entity, entity_id, op, version, created_at, attempts, trace_id)
            SELECT TG_ARGV[0], id, 'delete', nextval('{SEQUENCE}'), clock_timestamp(), 0, {_PG_TRACE}
            FROM (SELECT id FROM changed_rows ORDER BY id) AS deleted;
            RETURN NULL;
        END $$
        """,
        f"""
        CREATE OR REPLACE FUNCTION migrations_data_category_renamed() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            -- setting any value fires the product triggers: a new version and an outbox row each
            UPDATE {PRODUCT_TABLE} AS p SET sync_version = 0
            FROM new_rows AS n JOIN old_rows AS o ON o.id = n.id
            WHERE p.category_id = n.id
              AND (n.name IS DISTINCT FROM o.name OR n.slug IS DISTINCT FROM o.slug);
            RETURN NULL;
        END $$
        """,
    ]
    for entity, table in TABLES.items():
        statements += [
            f"DROP TRIGGER IF EXISTS {table}_sync_version ON {table}",
            f"CREATE TRIGGER {table}_sync_version BEFORE INSERT OR UPDATE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION migrations_data_sync_version_next()",
        ]
        for event, transition, function in (
            ("insert", "NEW", "migrations_data_outbox_upserted"),
            ("update", "NEW", "migrations_data_outbox_upserted"),
            ("delete", "OLD", "migrations_data_outbox_deleted"),
        ):
            # PostgreSQL allows transition tables only on single-event triggers: one per event.
            statements += [
                f"DROP TRIGGER IF EXISTS {table}_outbox_{event} ON {table}",
                f"CREATE TRIGGER {table}_outbox_{event} AFTER {event.upper()} ON {table} "
                f"REFERENCING {transition} TABLE AS changed_rows "
                f"FOR EACH STATEMENT EXECUTE FUNCTION {function}('{entity}')",
            ]
    statements += [
        f"DROP TRIGGER IF EXISTS {CATEGORY_TABLE}_renamed ON {CATEGORY_TABLE}",
        f"CREATE TRIGGER {CATEGORY_TABLE}_renamed AFTER UPDATE ON {CATEGORY_TABLE} "
        f"REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows "
        f"FOR EACH STATEMENT EXECUTE FUNCTION migrations_data_category_renamed()",
    ]
    return statements


def _pg_uninstall_sql() -> list[str]:
    statements = [
        f"DROP TRIGGER IF EXISTS {name} ON {table}" for name, table in trigger_names("postgresql").items()
    ]
    statements += [
        f"DROP FUNCTION IF EXISTS {function}()"
        for function in (
            "migrations_data_sync_version_next",
            "migrations_data_outbox_upserted",
            "migrations_data_outbox_deleted",
            "migrations_data_category_renamed",
        )
    ]
    return [*statements, f"DROP SEQUENCE IF EXISTS {SEQUENCE}"]


def _pg_installed(cursor) -> set[str]:
    cursor.execute(
        "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal AND tgrelid IN (%s::regclass, %s::regclass)",
        [PRODUCT_TABLE, CATEGORY_TABLE],
    )
    return {row[0] for row in cursor.fetchall()}


# --- SQLite ---------------------------------------------------------------------------------------

_SQLITE_NOW = "strftime('%Y-%m-%d %H:%M:%f', 'now')"
_SQLITE_CURRENT = f"(SELECT value FROM {COUNTER_TABLE} WHERE id = 1)"
# SQLite blocks only the SAME trigger from re-firing (recursive_triggers OFF), so the version write of
# the insert trigger would fire the update trigger: `busy` marks that write and the update trigger skips it.
_SQLITE_NOT_BUSY = f"(SELECT busy FROM {COUNTER_TABLE} WHERE id = 1) = 0"


def _sqlite_install_sql() -> list[str]:
    statements = [
        f"CREATE TABLE IF NOT EXISTS {COUNTER_TABLE} "
        f"(id INTEGER PRIMARY KEY CHECK (id = 1), value INTEGER NOT NULL, busy INTEGER NOT NULL)",
        f"INSERT OR IGNORE INTO {COUNTER_TABLE} (id, value, busy) VALUES (1, 0, 0)",
        f"UPDATE {COUNTER_TABLE} SET value = MAX(value, COALESCE(({_HIGHEST_VERSION}), 0)) WHERE id = 1",
    ]
    outbox = f"INSERT INTO {OUTBOX_TABLE} (entity, entity_id, op, version, created_at, attempts) VALUES"
    for entity, table in TABLES.items():
        upsert = f"""
            UPDATE {COUNTER_TABLE} SET value = value + 1, busy = 1 WHERE id = 1;
            UPDATE {table} SET sync_version = {_SQLITE_CURRENT} WHERE id = NEW.id;
            UPDATE {COUNTER_TABLE} SET busy = 0 WHERE id = 1;
            {outbox} ('{entity}', NEW.id, 'upsert', {_SQLITE_CURRENT}, {_SQLITE_NOW}, 0);
        """
        for event, when in (("insert", ""), ("update", f"WHEN {_SQLITE_NOT_BUSY} ")):
            statements += [
                f"DROP TRIGGER IF EXISTS {table}_outbox_{event}",
                f"CREATE TRIGGER {table}_outbox_{event} AFTER {event.upper()} ON {table} "
                f"FOR EACH ROW {when}BEGIN {upsert} END",
            ]
        statements += [
            f"DROP TRIGGER IF EXISTS {table}_outbox_delete",
            f"CREATE TRIGGER {table}_outbox_delete AFTER DELETE ON {table} FOR EACH ROW BEGIN "
            f"UPDATE {COUNTER_TABLE} SET value = value + 1 WHERE id = 1; "
            f"{outbox} ('{entity}', OLD.id, 'delete', {_SQLITE_CURRENT}, {_SQLITE_NOW}, 0); "
            f"END",
        ]
    statements += [
        f"DROP TRIGGER IF EXISTS {CATEGORY_TABLE}_renamed",
        f"CREATE TRIGGER {CATEGORY_TABLE}_renamed AFTER UPDATE ON {CATEGORY_TABLE} FOR EACH ROW "
        f"WHEN NEW.name IS NOT OLD.name OR NEW.slug IS NOT OLD.slug BEGIN "
        f"UPDATE {PRODUCT_TABLE} SET sync_version = 0 WHERE category_id = NEW.id; END",
    ]
    return statements


def _sqlite_uninstall_sql() -> list[str]:
    statements = [f"DROP TRIGGER IF EXISTS {name}" for name in trigger_names("sqlite")]
    return [*statements, f"DROP TABLE IF EXISTS {COUNTER_TABLE}"]


def _sqlite_installed(cursor) -> set[str]:
    cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
    return {row[0] for row in cursor.fetchall()}


# --- entry points ---------------------------------------------------------------------------------

_INSTALL = {"postgresql": _pg_install_sql, "sqlite": _sqlite_install_sql}
_UNINSTALL = {"postgresql": _pg_uninstall_sql, "sqlite": _sqlite_uninstall_sql}
_INSTALLED = {"postgresql": _pg_installed, "sqlite": _sqlite_installed}


def triggers_install(connection: BaseDatabaseWrapper) -> None:
    """Create (or replace) the counter, functions and triggers on `connection`."""
    vendor = _check_vendor(connection)
    with connection.cursor() as cursor:
        for statement in _INSTALL[vendor]():
            cursor.execute(statement)


def triggers_uninstall(connection: BaseDatabaseWrapper) -> None:
    """Drop everything triggers_install created (the reverse of migration 0002)."""
    vendor = _check_vendor(connection)
    with connection.cursor() as cursor:
        for statement in _UNINSTALL[vendor]():
            cursor.execute(statement)


def triggers_missing(connection: BaseDatabaseWrapper) -> list[str]:
    """Names of the outbox triggers that should exist on `connection` and do not."""
    vendor = _check_vendor(connection)
    with connection.cursor() as cursor:
        present = _INSTALLED[vendor](cursor)
    return sorted(set(trigger_names(vendor)) - present)


def ensure_triggers(connection: BaseDatabaseWrapper) -> list[str]:
    """Reinstall the triggers when any is missing (SQLite drops them when it rebuilds a table).

    Returns the names that were missing; does nothing (and takes no lock) when all are there.
    """
    missing = triggers_missing(connection)
    if missing:
        triggers_install(connection)
    return missing
