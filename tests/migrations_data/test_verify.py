"""`sync products verify [--repair]` against a REAL Product service: range checksums find exactly the
injected differences (a changed product, a product the service never got, one the monolith deleted),
--repair re-syncs exactly those ids, and the exit code says what happened."""

import json

import pytest
from django.core.management import call_command
from django.db import transaction

from contracts.product import EMPTY_RANGE_DIGEST, range_digest
from legacy_monolith.catalog.models import Product, StockMovement
from legacy_monolith.catalog.services import stock_reserve
from migrations_data.engine.verify import (
    MAX_ID,
    RangeChecksum,
    plan_ranges,
    source_range_checksums,
)
from migrations_data.products.backfill import backfill_products
from migrations_data.products.verify import verify_products
from tests.factories import CategoryFactory, ProductFactory

pytestmark = pytest.mark.django_db


def test_ranges_cover_every_id_up_to_the_largest_then_a_tail_to_the_end():
    assert plan_ranges(0, 1000) == [(0, 1000), (1000, MAX_ID)]
    assert plan_ranges(2500, 1000) == [(0, 1000), (1000, 2000), (2000, 3000), (3000, MAX_ID)]


def test_source_range_checksums_use_the_contracts_range_digest():
    pairs = [(3, "a" * 32), (5, "b" * 32), (1200, "c" * 32)]

    checksums = source_range_checksums(iter(pairs), plan_ranges(1200, 1000))

    assert checksums == [
        RangeChecksum(0, 1000, 2, range_digest(pairs[:2])),
        RangeChecksum(1000, 2000, 1, range_digest(pairs[2:])),
        RangeChecksum(2000, MAX_ID, 0, EMPTY_RANGE_DIGEST),
    ]


@pytest.fixture
def synced(sync_client):
    category = CategoryFactory()
    products = [ProductFactory(category=category) for _ in range(30)]
    backfill_products(client=sync_client, batch_size=50)
    return products


def inject_differences(products):
    """A change the service never heard of, a product it never got, one the monolith deleted."""
    changed, deleted = products[4], products[17]
    Product.objects.filter(pk=changed.pk).update(name="Renamed behind the sync's back")
    missing = ProductFactory(category=products[0].category)
    Product.objects.filter(pk=deleted.pk).delete()
    return changed.pk, missing.pk, deleted.pk


def test_verify_reports_no_difference_after_a_backfill(synced, sync_client):
    report = verify_products(client=sync_client, range_size=8)

    assert (report.differences, report.source_rows, report.target_rows) == (0, 30, 30)


def test_verify_checks_the_stock_history_and_repair_sends_the_missing_movements(synced, sync_client):
    product = synced[0]
    with transaction.atomic():
        stock_reserve(lines=[(product.pk, 1)], reference="TS-VERIFY-1")  # no relay runs: the service lacks it
    made = StockMovement.objects.get(reference="TS-VERIFY-1")

    [movements] = verify_products(client=sync_client, range_size=8).also
    assert (movements.entity, movements.missing, movements.different) == ("movements", [made.pk], [])

    [repaired] = verify_products(client=sync_client, range_size=8, repair=True).also
    assert repaired.repaired == {"sent": 1, "applied": 1, "remaining": 0}
    [clean] = verify_products(client=sync_client, range_size=8).also
    assert clean.differences == 0
    assert clean.source_rows == StockMovement.objects.count()


def test_verify_finds_exactly_the_changed_missing_and_extra_ids(synced, sync_client):
    changed, missing, extra = inject_differences(synced)

    report = verify_products(client=sync_client, range_size=8)

    assert (report.different, report.missing, report.extra) == ([changed], [missing], [extra])
    assert report.repaired is None


def test_an_extra_document_far_above_every_source_id_is_found_in_the_tail(synced, sync_client):
    far = synced[0].pk + 10**15
    stray = {**_document_of(synced[0]), "id": far}
    sync_client.post("/internal/v1/import/products", {"products": [stray], "deleted": []})

    report = verify_products(client=sync_client, range_size=8)

    assert (report.extra, report.missing, report.different) == ([far], [], [])


def test_a_product_created_at_the_service_is_checked_in_its_own_block_and_repaired_here(
    synced, sync_client, settings
):
    """The other direction: a product of the service's block the monolith never received is not a stray to
    delete but the service's own, applied here by --repair (as `sync products receive` would)."""
    own = {**_document_of(synced[0]), "id": settings.CATALOG_ID_OFFSET + 5, "sku": "SVC-5", "version": 0}
    sync_client.post("/internal/v1/import/products", {"products": [own], "deleted": []})

    report = verify_products(client=sync_client, range_size=8, repair=True)

    assert report.extra == [own["id"]]
    assert report.repaired["to_monolith"] == 1
    assert report.repaired["remaining"] == 0
    assert Product.objects.get(pk=own["id"]).sku == "SVC-5"
    again = verify_products(client=sync_client, range_size=8)
    assert (again.differences, again.source_rows) == (0, 31)


def _document_of(product):
    from acl_adapters.catalog.translate import product_to_document

    product.refresh_from_db()
    return product_to_document(product)


def test_repair_resyncs_exactly_the_differing_ids(synced, sync_client, target_digests):
    changed, missing, extra = inject_differences(synced)
    untouched = {i: d for i, d in target_digests().items() if i not in (changed, missing, extra)}

    report = verify_products(client=sync_client, repair=True, range_size=8)

    assert report.repaired == {
        "upserted": 2, "tombstoned": 1, "applied": 2, "stale": 0, "deleted": 1, "remaining": 0,
        "to_monolith": 0,
    }  # fmt: skip
    after = target_digests()
    assert {i: d for i, d in after.items() if i not in (changed, missing)} == untouched
    assert extra not in after
    assert verify_products(client=sync_client).differences == 0


def test_the_command_exits_1_on_differences_and_0_once_repaired(synced, sync_client, capsys):
    changed, missing, extra = inject_differences(synced)

    with pytest.raises(SystemExit) as found:
        call_command("sync", "products", "verify", "--format", "json", "--jobs", "1")
    assert found.value.code == 1
    report = json.loads(capsys.readouterr().out)
    assert (report["different"], report["missing"], report["extra"]) == ([changed], [missing], [extra])

    call_command("sync", "products", "verify", "--repair", "--jobs", "1")  # exit code 0: no SystemExit
    assert "remaining 0" in capsys.readouterr().out

    call_command("sync", "products", "verify", "--format", "json", "--jobs", "1")
    assert json.loads(capsys.readouterr().out)["differences"] == 0
