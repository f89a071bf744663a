"""The outbox triggers: every write path to products and categories leaves an outbox row with the row's
new sync_version, in the same transaction (runs on PostgreSQL and on SQLite, whichever DATABASE_URL is)."""

from types import SimpleNamespace

import pytest
from django.db import NotSupportedError, connection, transaction

from legacy_monolith.catalog.models import Category, Product, StockMovement
from legacy_monolith.catalog.services import product_update, stock_adjust, stock_reserve
from migrations_data.models import OutboxEvent
from migrations_data.outbox.triggers import (
    ensure_triggers,
    triggers_install,
    triggers_missing,
    triggers_uninstall,
)
from tests.factories import CategoryFactory, ProductFactory

pytestmark = pytest.mark.django_db


def outbox(entity: str = "product", since: int = 0) -> list[tuple[int, str, int]]:
    """(entity_id, op, version) of the outbox rows of one entity written after row id `since`."""
    rows = OutboxEvent.objects.filter(entity=entity, id__gt=since).order_by("id")
    return list(rows.values_list("entity_id", "op", "version"))


def last_outbox_id() -> int:
    return OutboxEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0


def version_of(product: Product) -> int:
    return Product.objects.values_list("sync_version", flat=True).get(pk=product.pk)


def test_saving_a_product_writes_an_upsert_carrying_its_new_version():
    product = ProductFactory()
    version = version_of(product)
    assert version > 0
    assert outbox()[-1] == (product.pk, "upsert", version)
    mark = last_outbox_id()
    product.name = "Renamed"
    product.save()
    assert version_of(product) > version
    assert outbox(since=mark) == [(product.pk, "upsert", version_of(product))]


def test_queryset_update_writes_one_upsert_per_updated_product():
    products = [ProductFactory(), ProductFactory()]
    untouched = ProductFactory()
    mark = last_outbox_id()
    Product.objects.filter(pk__in=[p.pk for p in products]).update(description="bulk")
    assert sorted(outbox(since=mark)) == sorted((p.pk, "upsert", version_of(p)) for p in products)
    assert untouched.pk not in {entity_id for entity_id, _, _ in outbox(since=mark)}


def test_bulk_create_writes_an_upsert_for_every_inserted_product():
    category = CategoryFactory()
    mark = last_outbox_id()
    created = Product.objects.bulk_create(
        [
            Product(sku=f"BULK-{i}", name=f"Bulk {i}", slug=f"bulk-{i}", category=category, price=1)
            for i in range(5)
        ]
    )
    assert sorted(outbox(since=mark)) == sorted((p.pk, "upsert", version_of(p)) for p in created)
    assert len({version_of(p) for p in created}) == 5


def test_bulk_update_writes_an_upsert_for_every_updated_product():
    products = [ProductFactory(), ProductFactory(), ProductFactory()]
    mark = last_outbox_id()
    for product in products:
        product.weight_grams = 1234
    Product.objects.bulk_update(products, ["weight_grams"])
    assert sorted(outbox(since=mark)) == sorted((p.pk, "upsert", version_of(p)) for p in products)


def test_a_raw_sql_update_writes_an_upsert():
    product = ProductFactory()
    mark = last_outbox_id()
    with connection.cursor() as cursor:
        cursor.execute("UPDATE catalog_product SET stock = stock + 7 WHERE id = %s", [product.pk])
    assert outbox(since=mark) == [(product.pk, "upsert", version_of(product))]


def test_deleting_a_product_writes_a_tombstone_newer_than_every_upsert():
    product = ProductFactory()
    product_id, version = product.pk, version_of(product)
    mark = last_outbox_id()
    Product.objects.filter(pk=product_id).delete()
    [(entity_id, op, tombstone_version)] = outbox(since=mark)
    assert (entity_id, op) == (product_id, "delete")
    assert tombstone_version > version


def test_stock_adjust_and_reserve_each_write_an_upsert_with_the_new_version():
    product = ProductFactory(stock=10)
    mark = last_outbox_id()
    stock_adjust(product=product, delta=5, reason=StockMovement.Reason.RESTOCK)
    after_adjust = version_of(product)
    with transaction.atomic():
        stock_reserve(lines=[(product.pk, 3)], reference="TS-1")
    assert outbox(since=mark) == [
        (product.pk, "upsert", after_adjust),
        (product.pk, "upsert", version_of(product)),
    ]
    assert version_of(product) > after_adjust


def test_a_rolled_back_transaction_leaves_no_outbox_row():
    product = ProductFactory(stock=4)
    mark = last_outbox_id()

    @transaction.atomic
    def change_then_fail():
        product_update(product=product, data={"name": "Never committed"})
        Product.objects.filter(pk=product.pk).update(stock=99)
        raise RuntimeError("roll back")

    with pytest.raises(RuntimeError):
        change_then_fail()
    assert outbox(since=mark) == []
    product.refresh_from_db()
    assert (product.name, product.stock) != ("Never committed", 99)


def test_saving_a_stale_instance_still_moves_the_version_forward():
    product = ProductFactory()
    stale = Product.objects.get(pk=product.pk)
    Product.objects.filter(pk=product.pk).update(stock=3)
    newer = version_of(product)
    stale.name = "From a stale copy"
    stale.save()  # writes the stale sync_version it read; the trigger replaces it
    assert version_of(product) > newer


def test_renaming_a_category_re_versions_every_product_in_it():
    category = CategoryFactory()
    inside = [ProductFactory(category=category), ProductFactory(category=category)]
    elsewhere = ProductFactory()
    before = {p.pk: version_of(p) for p in inside}
    mark = last_outbox_id()
    Category.objects.filter(pk=category.pk).update(name="Renamed category")
    assert sorted(outbox(since=mark)) == sorted((p.pk, "upsert", version_of(p)) for p in inside)
    assert all(version_of(p) > before[p.pk] for p in inside)
    assert elsewhere.pk not in {entity_id for entity_id, _, _ in outbox(since=mark)}
    assert outbox("category", since=mark) == [
        (category.pk, "upsert", Category.objects.get(pk=category.pk).sync_version)
    ]


def test_moving_a_category_under_a_parent_leaves_its_products_alone():
    parent, category = CategoryFactory(), CategoryFactory()
    ProductFactory(category=category)
    mark = last_outbox_id()
    Category.objects.filter(pk=category.pk).update(parent=parent)
    assert outbox(since=mark) == []
    assert [op for _, op, _ in outbox("category", since=mark)] == ["upsert"]


def test_a_dropped_trigger_is_put_back_by_ensure_triggers():
    assert triggers_missing(connection) == []
    dropped = "catalog_product_outbox_update"
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"DROP TRIGGER {dropped} ON catalog_product")
        else:
            cursor.execute(f"DROP TRIGGER {dropped}")
    assert triggers_missing(connection) == [dropped]
    assert ensure_triggers(connection) == [dropped]
    product = ProductFactory()
    mark = last_outbox_id()
    Product.objects.filter(pk=product.pk).update(stock=2)
    assert outbox(since=mark) == [(product.pk, "upsert", version_of(product))]


def test_installing_on_another_database_vendor_is_refused_with_a_clear_error():
    mysql = SimpleNamespace(vendor="mysql", alias="default")
    with pytest.raises(NotSupportedError, match="PostgreSQL and SQLite only"):
        triggers_install(mysql)


def test_reinstalled_triggers_continue_above_every_version_already_given():
    product = ProductFactory()
    highest = version_of(product)
    triggers_uninstall(connection)  # drops the counter too (migration 0002 reversed)
    triggers_install(connection)
    Product.objects.filter(pk=product.pk).update(stock=1)
    assert version_of(product) > highest
