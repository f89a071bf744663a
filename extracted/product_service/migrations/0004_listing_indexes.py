"""Indexes for the v1 listing's plans (store/orm/queries.py list_products), on every database:

- (is_active, id): an unfiltered listing in id order takes its page's ids from this index alone
  (index-only), so a deep page skips index entries instead of whole product rows.
- (category_id, is_active, price): the usual shop filter, a category (its ids resolved first) with a
  price range, is one range scan per category instead of every product of the category.
"""

from django.db import migrations

TABLE = "product_service_catalogproduct"


class Migration(migrations.Migration):
    dependencies = [("product_service", "0003_stock_not_negative")]

    operations = [
        migrations.RunSQL(
            f"CREATE INDEX IF NOT EXISTS catalog_store_active_id_idx ON {TABLE} (is_active, id)",
            "DROP INDEX IF EXISTS catalog_store_active_id_idx",
            elidable=False,
        ),
        migrations.RunSQL(
            f"CREATE INDEX IF NOT EXISTS catalog_store_category_price_idx ON {TABLE} (category_id, is_active, price)",
            "DROP INDEX IF EXISTS catalog_store_category_price_idx",
            elidable=False,
        ),
    ]
