"""`sync products backfill` against a REAL Product service: every category and product arrives as the
contract's document, a second run changes nothing, a checkpoint makes an unfinished run resume, and a
service that is down stops the command with one line and exit code 2."""

import pytest
from django.core.management import call_command

from acl_adapters.catalog.translate import product_to_document
from contracts.product import doc_digest
from legacy_monolith.catalog.models import Product, StockMovement
from migrations_data.engine import SyncError, TargetRefused, TargetUnavailable
from migrations_data.engine.backfill import run_backfill
from migrations_data.models import SyncCheckpoint
from migrations_data.products.backfill import backfill_products
from migrations_data.products.spec import product_spec
from tests.factories import CategoryFactory, ProductFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def catalog(db):
    laptops = CategoryFactory(slug="laptops", name="Laptops")
    phones = CategoryFactory(slug="phones", name="Téléphones ✓")
    products = [ProductFactory(category=laptops if n % 2 else phones) for n in range(25)]
    return [Product.objects.select_related("category").get(pk=p.pk) for p in products]


def expected_digests(products) -> dict[int, str]:
    return {p.pk: doc_digest(product_to_document(p)) for p in products}


def test_a_backfill_copies_every_product_as_its_contract_document(catalog, sync_client, target_digests):
    categories, products, movements = backfill_products(client=sync_client, batch_size=7)

    assert (categories.rows, products.rows, products.batches) == (2, 25, 4)
    assert products.result.applied == 25
    assert target_digests() == expected_digests(catalog)
    # the stock histories follow the products, once per movement id (a second run applies none)
    assert movements.rows == StockMovement.objects.count()
    assert movements.result.applied + movements.result.stale == movements.rows


def test_a_second_backfill_applies_nothing_new(catalog, sync_client, target_digests):
    backfill_products(client=sync_client, batch_size=10)

    _, again, _ = backfill_products(client=sync_client, batch_size=10)

    assert (again.rows, again.result.applied, again.result.stale) == (25, 0, 25)
    assert target_digests() == expected_digests(catalog)


def test_a_dry_run_translates_everything_and_sends_nothing(catalog, sync_client, target_digests):
    _, products, _ = backfill_products(client=sync_client, batch_size=10, dry_run=True)

    assert products.rows == 25
    assert target_digests() == {}
    assert not SyncCheckpoint.objects.filter(name="products.backfill").exists()


def test_a_dry_run_names_a_document_the_contract_would_refuse(catalog, sync_client):
    Product.objects.filter(pk=catalog[3].pk).update(currency="eur")

    with pytest.raises(SyncError, match=rf"invalid_document: products {catalog[3].pk}: currency"):
        backfill_products(client=sync_client, batch_size=10, dry_run=True)


def test_each_batch_moves_the_checkpoint_and_a_finished_run_is_marked(catalog, sync_client):
    seen: list[int] = []
    spec = product_spec(sync_client)

    def send_and_look(documents, tombstones):
        result = spec.send(documents, tombstones)
        seen.append(documents[-1]["id"])
        return result

    run_backfill(spec.__class__(**{**spec.__dict__, "send": send_and_look}), batch_size=10)

    checkpoint = SyncCheckpoint.objects.get(name="products.backfill")
    assert checkpoint.position == {"last_id": catalog[-1].pk}
    assert checkpoint.rows_done == 25
    assert checkpoint.finished_at is not None
    assert sorted(seen) == [catalog[9].pk, catalog[19].pk, catalog[24].pk]


def test_the_checkpoint_never_passes_a_batch_the_target_did_not_acknowledge(catalog, sync_client):
    spec = product_spec(sync_client)

    def second_batch_fails(documents, tombstones):
        if documents[0]["id"] == catalog[10].pk:
            raise TargetUnavailable("the service went away")
        return spec.send(documents, tombstones)

    with pytest.raises(TargetUnavailable):
        run_backfill(
            spec.__class__(**{**spec.__dict__, "send": second_batch_fails}), batch_size=10, in_flight=3
        )

    checkpoint = SyncCheckpoint.objects.get(name="products.backfill")
    assert (checkpoint.position, checkpoint.rows_done) == ({"last_id": catalog[9].pk}, 10)
    assert checkpoint.finished_at is None


def test_an_unfinished_run_resumes_after_its_checkpoint(catalog, sync_client, target_digests):
    SyncCheckpoint.objects.create(
        name="products.backfill", position={"last_id": catalog[14].pk}, rows_done=15
    )

    _, products, _ = backfill_products(client=sync_client, batch_size=4)

    assert products.resumed_from == catalog[14].pk
    assert products.rows == 10
    assert set(target_digests()) == {p.pk for p in catalog[15:]}
    assert SyncCheckpoint.objects.get(name="products.backfill").rows_done == 25


def test_restart_ignores_an_unfinished_checkpoint(catalog, sync_client, target_digests):
    SyncCheckpoint.objects.create(
        name="products.backfill", position={"last_id": catalog[14].pk}, rows_done=15
    )

    _, products, _ = backfill_products(client=sync_client, batch_size=10, restart=True)

    assert (products.resumed_from, products.rows) == (0, 25)
    assert target_digests() == expected_digests(catalog)


def test_the_command_prints_a_json_summary(catalog, sync_client, capsys):
    call_command("sync", "products", "backfill", "--batch-size", "10", "--json")

    out = capsys.readouterr().out
    assert '"entity":"products","rows":25,"batches":3,"applied":25' in out


def test_an_unreachable_service_stops_the_command_with_one_line_and_exit_code_2(catalog, settings, capsys):
    from legacy_monolith.demo.processes import free_port

    settings.PRODUCT_SERVICE_URL = f"http://127.0.0.1:{free_port()}"

    with pytest.raises(SystemExit) as exited:
        call_command("sync", "products", "backfill", "--no-progress")

    assert exited.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith("sync products backfill: target_unavailable: POST http://127.0.0.1:")


def test_a_refused_document_stops_the_backfill_with_the_services_reason(catalog, sync_client):
    spec = product_spec(sync_client)
    broken = spec.__class__(
        **{**spec.__dict__, "translate": lambda row: {**spec.translate(row), "price": "1"}}
    )

    with pytest.raises(TargetRefused, match=r"target_refused: .* answered 400: invalid_document"):
        run_backfill(broken, batch_size=10)
