"""PostgreSQL-only indexes of the ORM catalog store; on SQLite (the embedded profile) this migration
does nothing and the same queries run on the plain column indexes.

- pg_trgm GIN indexes on UPPER(column): Django's icontains is `UPPER(col::text) LIKE UPPER('%q%')`, the
  monolith's exact semantics, and a trigram index on that very expression serves it.
- GIN (jsonb_path_ops) on attributes: `attributes @> '{"name": value}'` for attr.<name> filters.
- GIN on the full-text vector (store/orm/base.py TSVECTOR_SQL) for /api/v2 relevance.
"""

from django.db import migrations

# Frozen copy of store/orm/base.py TSVECTOR_SQL (test_postgresql_indexes.py checks the index serves it).
TSVECTOR_SQL = "to_tsvector('simple'::regconfig, (name::text || ' ' || sku::text || ' ' || description))"
TABLE = "product_service_catalogproduct"
FORWARD = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    f"CREATE INDEX IF NOT EXISTS catalog_store_name_trgm ON {TABLE} USING gin (UPPER(name::text) gin_trgm_ops)",
    f"CREATE INDEX IF NOT EXISTS catalog_store_sku_trgm ON {TABLE} USING gin (UPPER(sku::text) gin_trgm_ops)",
    f"CREATE INDEX IF NOT EXISTS catalog_store_description_trgm ON {TABLE} USING gin (UPPER(description) gin_trgm_ops)",
    f"CREATE INDEX IF NOT EXISTS catalog_store_attributes_gin ON {TABLE} USING gin (attributes jsonb_path_ops)",
    f"CREATE INDEX IF NOT EXISTS catalog_store_fulltext ON {TABLE} USING gin ({TSVECTOR_SQL})",
]
BACKWARD = [
    "DROP INDEX IF EXISTS catalog_store_name_trgm",
    "DROP INDEX IF EXISTS catalog_store_sku_trgm",
    "DROP INDEX IF EXISTS catalog_store_description_trgm",
    "DROP INDEX IF EXISTS catalog_store_attributes_gin",
    "DROP INDEX IF EXISTS catalog_store_fulltext",
]


def run(statements):
    def apply(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            for statement in statements:
                schema_editor.execute(statement)

    return apply


class Migration(migrations.Migration):
    dependencies = [("product_service", "0001_initial")]

    operations = [migrations.RunPython(run(FORWARD), run(BACKWARD), elidable=False)]
