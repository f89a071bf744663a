"""The v1 `q` search's narrow relation on PostgreSQL (store/orm/text_search.py): one row per product with
its upper-cased searchable text, a trigram index on it, kept by a trigger on the product table whatever
writes it (imports, stock changes, catalog writes), and filled from the products already there. The three
per-column trigram indexes it replaces are dropped. On SQLite this migration does nothing."""

from django.db import migrations, models

TABLE = "product_service_catalogproduct"
SEARCH = "product_service_catalogsearch"
# Frozen copy of store/orm/text_search.py HAYSTACK_SQL over the row `row` (chr(31): the unit separator).
HAYSTACK = (
    "upper({row}.sku::text) || chr(31) || upper({row}.name::text) || chr(31) || upper({row}.description)"
)

# Table names and the haystack expression are constants of this file; nothing here comes from input.
FORWARD = [
    f"""CREATE TABLE IF NOT EXISTS {SEARCH} (
        id bigint PRIMARY KEY,
        is_active boolean NOT NULL,
        haystack text NOT NULL
    )""",
    f"""CREATE OR REPLACE FUNCTION product_service_catalogsearch_sync() RETURNS trigger AS $$
    BEGIN
        IF TG_OP = 'DELETE' THEN
            DELETE FROM {SEARCH} WHERE id = OLD.id;
            RETURN OLD;
        END IF;
        INSERT INTO {SEARCH} (id, is_active, haystack)
        VALUES (NEW.id, NEW.is_active, {HAYSTACK.format(row="NEW")})
        ON CONFLICT (id) DO UPDATE SET is_active = EXCLUDED.is_active, haystack = EXCLUDED.haystack;
        RETURN NEW;
    END;
    $$ LANGUAGE plpgsql""",  # noqa: S608
    f"""CREATE TRIGGER product_service_catalogsearch_insert AFTER INSERT ON {TABLE}
        FOR EACH ROW EXECUTE FUNCTION product_service_catalogsearch_sync()""",
    f"""CREATE TRIGGER product_service_catalogsearch_update AFTER UPDATE OF sku, name, description, is_active
        ON {TABLE} FOR EACH ROW
        WHEN (OLD.sku IS DISTINCT FROM NEW.sku OR OLD.name IS DISTINCT FROM NEW.name
              OR OLD.description IS DISTINCT FROM NEW.description OR OLD.is_active IS DISTINCT FROM NEW.is_active)
        EXECUTE FUNCTION product_service_catalogsearch_sync()""",
    f"""CREATE TRIGGER product_service_catalogsearch_delete AFTER DELETE ON {TABLE}
        FOR EACH ROW EXECUTE FUNCTION product_service_catalogsearch_sync()""",
    f"""INSERT INTO {SEARCH} (id, is_active, haystack)
        SELECT p.id, p.is_active, {HAYSTACK.format(row="p")} FROM {TABLE} p
        ON CONFLICT (id) DO NOTHING""",  # noqa: S608
    f"CREATE INDEX IF NOT EXISTS catalog_search_trgm ON {SEARCH} USING gin (haystack gin_trgm_ops)",
    "DROP INDEX IF EXISTS catalog_store_name_trgm",
    "DROP INDEX IF EXISTS catalog_store_sku_trgm",
    "DROP INDEX IF EXISTS catalog_store_description_trgm",
    f"ANALYZE {SEARCH}",
]
BACKWARD = [
    f"CREATE INDEX IF NOT EXISTS catalog_store_name_trgm ON {TABLE} USING gin (UPPER(name::text) gin_trgm_ops)",
    f"CREATE INDEX IF NOT EXISTS catalog_store_sku_trgm ON {TABLE} USING gin (UPPER(sku::text) gin_trgm_ops)",
    f"CREATE INDEX IF NOT EXISTS catalog_store_description_trgm ON {TABLE} USING gin (UPPER(description) gin_trgm_ops)",
    f"DROP TRIGGER IF EXISTS product_service_catalogsearch_insert ON {TABLE}",
    f"DROP TRIGGER IF EXISTS product_service_catalogsearch_update ON {TABLE}",
    f"DROP TRIGGER IF EXISTS product_service_catalogsearch_delete ON {TABLE}",
    "DROP FUNCTION IF EXISTS product_service_catalogsearch_sync()",
    f"DROP TABLE IF EXISTS {SEARCH}",
]


def run(statements):
    def apply(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            for statement in statements:
                schema_editor.execute(statement)

    return apply


class Migration(migrations.Migration):
    dependencies = [("product_service", "0004_listing_indexes")]

    operations = [
        migrations.RunPython(run(FORWARD), run(BACKWARD), elidable=False),
        migrations.CreateModel(
            name="CatalogSearch",
            fields=[
                ("id", models.BigIntegerField(primary_key=True, serialize=False)),
                ("is_active", models.BooleanField()),
                ("haystack", models.TextField()),
            ],
            options={"db_table": SEARCH, "managed": False},
        ),
    ]
