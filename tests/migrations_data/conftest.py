"""Sync tests: a REAL Product service (gunicorn on its own throwaway database) per module, and clients
of its internal API. The monolith side is the test database; each test starts from an empty target."""

import pytest

from migrations_data.engine.http import InternalApiClient
from migrations_data.engine.verify import VerifySides, verify_entity
from migrations_data.products.verify import product_sides
from tests.e2e.product_service import product_service  # noqa: F401 - a fixture

TOMBSTONE_VERSION = 2**62  # newer than anything a test writes


@pytest.fixture
def sync_client(product_service, settings):  # noqa: F811 - the imported fixture
    """The internal API client, and the settings `manage.py sync` builds its own from, on the service.
    Whatever a previous test left in the service is tombstoned first (tombstones are not verified)."""
    settings.PRODUCT_SERVICE_URL = product_service.url
    settings.INTERNAL_API_TOKEN = product_service.token
    client = InternalApiClient(product_service.url, product_service.token, attempts=2, backoff_max=0.2)
    left = every_target_id(client)
    if left:
        tombstones = [{"id": i, "version": TOMBSTONE_VERSION} for i in left]
        client.post("/internal/v1/import/products", {"products": [], "deleted": tombstones})
    yield client
    client.close()


@pytest.fixture
def target_digests(sync_client):
    """{id: digest} of every document the service holds now."""

    return lambda: documents_of(sync_client)


def every_target_id(client: InternalApiClient) -> list[int]:
    """Every id the service holds a document for: verify against an empty source lists them as extra."""
    target = product_sides(client)
    empty = VerifySides(
        source_max_id=lambda: 0,
        source_stream=lambda lo, hi: iter(()),
        source_digests=lambda lo, hi: {},
        target_checksums=target.target_checksums,
        target_digests=target.target_digests,
    )
    return verify_entity("products", empty).extra


def documents_of(client: InternalApiClient, span: int = 100_000) -> dict[int, str]:
    """{id: digest} of every document with an id below 10^8 (the tests' ids are far below)."""
    ranges = [[lo, lo + span] for lo in range(0, 1000 * span, span)]
    found: dict[int, str] = {}
    for checksum in client.post("/internal/v1/verify/checksums", {"ranges": ranges})["ranges"]:
        if checksum["count"]:
            answer = client.post("/internal/v1/verify/digests", {"lo": checksum["lo"], "hi": checksum["hi"]})
            found.update({int(key): value for key, value in answer["digests"].items()})
    return found
