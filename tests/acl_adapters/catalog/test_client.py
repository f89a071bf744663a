"""The monolith's catalog reads through the ACL client, against a REAL Product service: with the flag
`monolith.catalog.read_from_service` on, every public read answers the same bytes as with it off (the
service really answered), and once the service is stopped the answers still are the same, from the
monolith's own tables (fallbacks counted, the breaker opens)."""

from decimal import Decimal

import pytest
from prometheus_client import REGISTRY
from rest_framework.test import APIClient

from acl_adapters.catalog.client import CatalogClient, CatalogClientConfig, use_catalog_client
from flags import Flags, FlagsConfig
from flags.flagsfile import dump_features
from kernel.files import write_atomically
from kernel.resilience import BreakerConfig
from legacy_monolith.catalog import reads
from migrations_data.engine.http import InternalApiClient
from migrations_data.products.backfill import backfill_products
from tests.e2e.product_service import running_product_service
from tests.factories import CategoryFactory, ProductFactory

pytestmark = pytest.mark.django_db

FLAG = reads.READ_FROM_SERVICE_FLAG


def read_urls(products) -> list[str]:
    active, inactive = products[0], products[-1]
    return [
        "/api/v1/catalog/products",
        "/api/v1/catalog/products?page=2&page_size=5",
        "/api/v1/catalog/products?category=computers&ordering=-price",
        "/api/v1/catalog/products?q=ultra&in_stock=true",
        "/api/v1/catalog/products?attr.color=black&min_price=10",
        "/api/v1/catalog/products?ordering=name&page_size=3&page=3",
        "/api/v1/catalog/products?page=99",
        "/api/v1/catalog/products?page=0",
        "/api/v1/catalog/products?in_stock=maybe",
        f"/api/v1/catalog/products/{active.pk}",
        f"/api/v1/catalog/products/{inactive.pk}",
        "/api/v1/catalog/products/999999999",
        "/api/v1/catalog/categories",
        "/api/v1/catalog/categories?page=2&page_size=1",
    ]


@pytest.fixture
def catalog(db):
    computers = CategoryFactory(slug="computers", name="Computers")
    laptops = CategoryFactory(slug="laptops", name="Portables légers", parent=computers)
    products = [
        ProductFactory(
            category=laptops if n % 3 else computers,
            name=f"{'Ultra' if n % 4 == 0 else 'Basic'} machine {n} ✓",
            price=Decimal(f"{n * 7 + 3}.{n % 100:02d}"),
            stock=n % 5,
            attributes={"color": "black" if n % 2 else "white", "ram_gb": 8 * (n % 3 + 1)} if n % 6 else {},
        )
        for n in range(1, 23)
    ]
    products.append(ProductFactory(category=laptops, is_active=False, name="Retired machine"))
    return products


def backfill_into(service) -> None:
    client = InternalApiClient(service.url, service.token)
    backfill_products(client=client, batch_size=10)
    client.close()


@pytest.fixture
def flag_on(tmp_path):
    """The monolith's flags facade on a flags file where the read flag is on."""
    path = tmp_path / "flags.json"
    write_atomically(
        path,
        dump_features(
            {"version": 2, "features": [{"name": FLAG, "type": "release", "enabled": True, "strategies": []}]}
        ),
    )
    facade = Flags(FlagsConfig(flags_file=path, audit_log=tmp_path / "audit.log"))
    previous = reads.use_flags(facade)
    yield
    reads.use_flags(previous)
    facade.close()


@pytest.fixture
def flag_off(tmp_path):
    path = tmp_path / "flags-off.json"
    write_atomically(path, dump_features({"version": 2, "features": []}))
    facade = Flags(FlagsConfig(flags_file=path, audit_log=tmp_path / "audit-off.log"))
    previous = reads.use_flags(facade)
    yield facade
    reads.use_flags(previous)
    facade.close()


def client_on(service) -> CatalogClient:
    config = CatalogClientConfig(
        base_url=service.url, attempts=2, backoff_initial=0.01, breaker=BreakerConfig(consecutive_failures=3)
    )
    client = CatalogClient(config)
    use_catalog_client(client)
    return client


def answers(urls) -> list[tuple[int, bytes]]:
    api = APIClient()
    return [(r.status_code, r.content) for r in (api.get(url) for url in urls)]


def calls(outcome: str) -> float:
    total = 0.0
    for operation in ("product_list", "product_get", "category_list"):
        total += (
            REGISTRY.get_sample_value("acl_catalog_calls_total", {"operation": operation, "outcome": outcome})
            or 0.0
        )
    return total


def fallbacks() -> float:
    return sum(
        REGISTRY.get_sample_value("acl_catalog_fallbacks_total", {"operation": op}) or 0.0
        for op in ("product_list", "product_get", "category_list")
    )


@pytest.fixture
def legacy_answers(catalog, flag_off):
    urls = read_urls(catalog)
    return urls, answers(urls)


def test_with_the_flag_on_every_read_answers_the_same_bytes_from_the_service(
    legacy_answers, product_service, request
):
    urls, legacy = legacy_answers
    backfill_into(product_service)
    client_on(product_service)
    request.getfixturevalue("flag_on")
    ok_before, fallbacks_before = calls("ok") + calls("not_found"), fallbacks()

    from_service = answers(urls)

    assert from_service == legacy
    assert {status for status, _ in legacy} == {200, 400, 404}
    # every read that reached the paginator or the detail went to the service, none fell back
    assert calls("ok") + calls("not_found") - ok_before >= 10
    assert fallbacks() == fallbacks_before
    use_catalog_client(None)


def test_staff_reads_of_inactive_products_stay_on_the_monolith(catalog, product_service, flag_on, client_for):
    from tests.factories import UserFactory

    client_on(product_service)
    staff = client_for(UserFactory(role="staff"))
    before = calls("ok") + calls("not_found")

    answer = staff.get(f"/api/v1/catalog/products/{catalog[-1].pk}")

    assert answer.status_code == 200
    assert answer.json()["is_active"] is False
    assert calls("ok") + calls("not_found") == before
    use_catalog_client(None)


def test_with_the_service_stopped_reads_fall_back_to_the_same_answers(legacy_answers, tmp_path, request):
    urls, legacy = legacy_answers
    with running_product_service(var_dir=tmp_path / "doomed") as doomed:
        backfill_into(doomed)
        client = client_on(doomed)
        request.getfixturevalue("flag_on")
        assert answers(urls[:1]) == legacy[:1]
        doomed.stop()
        fallbacks_before, refused_before = fallbacks(), calls("breaker_open")

        from_fallback = answers(urls)

    assert from_fallback == legacy
    assert all(status < 500 for status, _ in from_fallback)
    assert fallbacks() - fallbacks_before >= 10
    assert client.breaker.state.value == "open"
    assert calls("breaker_open") > refused_before  # after 3 failures the breaker answered alone
    use_catalog_client(None)
