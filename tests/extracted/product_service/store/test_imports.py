"""Imports into the store: the version rule (only a greater version applies), tombstones that keep a
deleted product deleted, idempotent replays, and strict validation before anything is written."""

from __future__ import annotations

import pytest

from contracts.product import ContractError, doc_digest
from extracted.product_service.store.port import ImportResult, ProductNotFound, ProductQuery

from .adapters import DATABASES
from .dataset import CATEGORIES, product_doc, products

pytestmark = pytest.mark.django_db(databases=DATABASES)


def stored(store, product_id: int) -> dict:
    return store.get_product(product_id, include_inactive=True)


def test_a_first_import_applies_every_document(catalog_store):
    assert catalog_store.upsert_products(products()) == ImportResult(applied=12)
    assert catalog_store.stats().products == 12


def test_replaying_an_import_changes_nothing_and_counts_it_stale(catalog_store):
    catalog_store.upsert_products(products())
    before = catalog_store.digests(0, 100)

    assert catalog_store.upsert_products(products()) == ImportResult(stale=12)
    assert catalog_store.digests(0, 100) == before


def test_a_greater_version_replaces_the_document(catalog_store):
    catalog_store.upsert_products([product_doc(1, version=3)])

    result = catalog_store.upsert_products([product_doc(1, name="ThinkPad X1 Gen 12", version=4)])

    assert result == ImportResult(applied=1)
    assert stored(catalog_store, 1) == product_doc(1, name="ThinkPad X1 Gen 12", version=4)


@pytest.mark.parametrize("late_version", [2, 3], ids=["older", "equal"])
def test_a_late_batch_never_overwrites_a_newer_change(catalog_store, late_version):
    catalog_store.upsert_products([product_doc(1, name="Newer", version=3)])

    result = catalog_store.upsert_products([product_doc(1, name="Late backfill", version=late_version)])

    assert result == ImportResult(stale=1)
    assert stored(catalog_store, 1)["name"] == "Newer"


def test_the_newest_of_one_id_twice_in_a_batch_wins(catalog_store):
    batch = [product_doc(1, name="Five", version=5), product_doc(1, name="Four", version=4)]

    assert catalog_store.upsert_products(batch) == ImportResult(applied=1, stale=1)
    assert stored(catalog_store, 1)["name"] == "Five"


def test_a_batch_applies_its_newer_documents_and_skips_its_stale_ones(catalog_store):
    catalog_store.upsert_products([product_doc(1, version=5), product_doc(2, version=5)])

    result = catalog_store.upsert_products(
        [product_doc(1, version=6), product_doc(2, version=4), product_doc(3)]
    )

    assert result == ImportResult(applied=2, stale=1)
    assert [stored(catalog_store, i)["version"] for i in (1, 2, 3)] == [6, 5, 1]


def test_a_delete_removes_the_product(catalog_store):
    catalog_store.upsert_products([product_doc(1, version=3)])

    assert catalog_store.delete_products([{"id": 1, "version": 4}]) == ImportResult(deleted=1)
    with pytest.raises(ProductNotFound):
        stored(catalog_store, 1)
    assert catalog_store.stats().products == 0


@pytest.mark.parametrize("stale_version", [3, 4], ids=["older", "equal"])
def test_a_tombstone_keeps_a_stale_upsert_from_resurrecting_the_product(catalog_store, stale_version):
    catalog_store.upsert_products([product_doc(1, version=3)])
    catalog_store.delete_products([{"id": 1, "version": 4}])

    assert catalog_store.upsert_products([product_doc(1, version=stale_version)]) == ImportResult(stale=1)
    with pytest.raises(ProductNotFound):
        stored(catalog_store, 1)


def test_a_delete_that_arrives_before_the_product_still_blocks_its_older_upserts(catalog_store):
    assert catalog_store.delete_products([{"id": 1, "version": 9}]) == ImportResult(deleted=1)

    assert catalog_store.upsert_products([product_doc(1, version=8)]) == ImportResult(stale=1)
    assert catalog_store.stats().products == 0


def test_an_upsert_newer_than_the_tombstone_brings_the_product_back_once(catalog_store):
    catalog_store.delete_products([{"id": 1, "version": 4}])

    assert catalog_store.upsert_products([product_doc(1, version=5)]) == ImportResult(applied=1)
    assert stored(catalog_store, 1)["version"] == 5
    # The tombstone went with the revival: the next delete needs only beat version 5.
    assert catalog_store.delete_products([{"id": 1, "version": 6}]) == ImportResult(deleted=1)


def test_a_delete_older_than_the_stored_product_is_stale(catalog_store):
    catalog_store.upsert_products([product_doc(1, version=8)])

    assert catalog_store.delete_products([{"id": 1, "version": 7}]) == ImportResult(stale=1)
    assert stored(catalog_store, 1)["version"] == 8


def test_replaying_a_delete_is_a_no_op(catalog_store):
    catalog_store.upsert_products([product_doc(1, version=3)])
    catalog_store.delete_products([{"id": 1, "version": 4}])

    assert catalog_store.delete_products([{"id": 1, "version": 4}]) == ImportResult(stale=1)


def test_categories_follow_the_same_version_rule(catalog_store):
    assert catalog_store.upsert_categories(CATEGORIES) == ImportResult(applied=4)
    renamed = {**CATEGORIES[0], "name": "Notebooks", "version": 2}
    late = {**CATEGORIES[0], "name": "Late", "version": 2}

    assert catalog_store.upsert_categories([renamed]) == ImportResult(applied=1)
    assert catalog_store.upsert_categories([late, CATEGORIES[1]]) == ImportResult(stale=2)
    assert [c["name"] for c in catalog_store.list_categories() if c["id"] == 1] == ["Notebooks"]


def test_a_moved_category_changes_what_its_parent_lists(catalog_store):
    catalog_store.upsert_categories(CATEGORIES)
    catalog_store.upsert_products(products())
    detached = {**CATEGORIES[1], "parent_id": None, "version": 2}

    catalog_store.upsert_categories([detached])

    items, _ = catalog_store.list_products(ProductQuery(category="laptops"), offset=0, limit=50)
    assert [item["id"] for item in items] == [1, 2, 8]


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        ({"price": "12.5"}, "products[1].price"),
        ({"price": 12.5}, "products[1].price"),
        ({"stock": -1}, "products[1].stock"),
        ({"is_active": "yes"}, "products[1].is_active"),
        ({"sku": "S" * 65}, "products[1].sku"),
        ({"in_stock": True}, "products[1].in_stock"),
        ({"category": {"id": 1, "slug": "laptops"}}, "products[1].category.name"),
        ({"created_at": "2026-01-01 10:00:00"}, "products[1].created_at"),
    ],
)
def test_an_invalid_document_refuses_the_whole_batch_naming_the_field(catalog_store, bad, field):
    batch = [product_doc(1), product_doc(2, **bad)]

    with pytest.raises(ContractError) as refused:
        catalog_store.upsert_products(batch)

    assert refused.value.code == "invalid_document"
    assert refused.value.extra == {"field": field}
    assert catalog_store.stats().products == 0


def test_an_invalid_tombstone_is_refused(catalog_store):
    with pytest.raises(ContractError) as refused:
        catalog_store.delete_products([{"id": 1}])
    assert refused.value.extra == {"field": "deleted[0].version"}


def test_preserving_stock_keeps_the_stored_level_of_existing_products(catalog_store):
    catalog_store.upsert_products([product_doc(1, stock=5)])
    catalog_store.stock_adjust(1, 10)

    result = catalog_store.upsert_products(
        [product_doc(1, name="Renamed", stock=5, version=2), product_doc(2, stock=7)], preserve_stock=True
    )

    assert result == ImportResult(applied=2)
    assert stored(catalog_store, 1) == product_doc(1, name="Renamed", stock=15, version=2)
    assert stored(catalog_store, 2)["stock"] == 7  # a new product takes the document's level
    assert catalog_store.digests(1, 2) == {1: doc_digest(stored(catalog_store, 1))}


def test_an_import_larger_than_a_chunk_is_written_chunk_by_chunk(catalog_store):
    catalog_store.chunk_size = 100
    docs = [product_doc(product_id) for product_id in range(100, 350)]
    newer = [product_doc(product_id, version=2) for product_id in range(100, 350, 2)]

    assert catalog_store.upsert_products(docs) == ImportResult(applied=250)
    assert catalog_store.upsert_products(docs + newer) == ImportResult(applied=125, stale=250)
    stats = catalog_store.stats()
    assert (stats.products, stats.max_version) == (250, 2)
    assert catalog_store.delete_products([{"id": i, "version": 3} for i in range(100, 350)]).deleted == 250


def test_stats_report_the_count_the_newest_version_and_when_it_was_applied(catalog_store):
    assert catalog_store.stats().products == 0
    assert catalog_store.stats().last_applied_at is None

    catalog_store.upsert_products([product_doc(1, version=7), product_doc(2, version=3)])

    stats = catalog_store.stats()
    assert (stats.products, stats.max_version) == (2, 7)
    assert stats.last_applied_at is not None
