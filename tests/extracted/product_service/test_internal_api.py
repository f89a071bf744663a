"""/internal/v1: bearer token, strict validation, the version rule through HTTP, verify, status, stock."""

from __future__ import annotations

import orjson
import pytest

from chassis.outbox.models import OutboxEvent
from contracts.product import doc_digest

from .documents import CATEGORIES, product_doc

pytestmark = pytest.mark.django_db

IMPORT = "/internal/v1/import/products"


def test_internal_endpoints_need_the_token(api_client, seeded):
    assert api_client.post(IMPORT, {"products": []}, format="json").status_code == 401
    api_client.credentials(HTTP_AUTHORIZATION="Bearer wrong")
    answer = api_client.get("/internal/v1/sync/status")
    assert answer.status_code == 401
    assert answer.json()["code"] == "authentication_failed"


def test_an_import_applies_newer_versions_and_counts_older_ones_stale(internal_client, seeded):
    body = {"products": [product_doc(3, version=5), product_doc(4, version=1), product_doc(99, version=1)]}
    assert internal_client.post(IMPORT, body, format="json").json() == {
        "applied": 2,
        "stale": 1,
        "deleted": 0,
    }
    assert internal_client.post(IMPORT, body, format="json").json() == {
        "applied": 0,
        "stale": 3,
        "deleted": 0,
    }


def test_a_tombstone_deletes_and_blocks_a_stale_upsert(internal_client, api_client, seeded):
    answer = internal_client.post(IMPORT, {"deleted": [{"id": 3, "version": 9}]}, format="json")
    assert answer.json()["deleted"] == 1
    assert api_client.get("/api/v1/catalog/products/3").status_code == 404
    stale = internal_client.post(IMPORT, {"products": [product_doc(3, version=8)]}, format="json")
    assert stale.json() == {"applied": 0, "stale": 1, "deleted": 0}


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ({"products": [], "extra_key": 1}, "validation_error", None),
        ({"products": "no"}, "validation_error", None),
        ({"products": [{**product_doc(1), "price": "12.3"}]}, "invalid_document", "products[0].price"),
        ({"products": [{**product_doc(1), "colour": "red"}]}, "invalid_document", "products[0].colour"),
        ({"deleted": [{"id": 1}]}, "invalid_document", "deleted[0].version"),
        # a timestamp of the right shape but no real instant was a 500 (schemathesis, issue 12)
        (
            {"products": [{**product_doc(1), "created_at": "2024-02-30T00:00:00Z"}]},
            "invalid_document",
            "products[0].created_at",
        ),
        ({"products": [{**product_doc(1), "updated_at": "0000-00-00T00:00:00Z"}]}, "invalid_document", None),
    ],
)
def test_imports_are_validated_strictly(internal_client, seeded, body, code, field):
    answer = internal_client.post(IMPORT, body, format="json")
    assert answer.status_code == 400
    assert answer.json()["code"] == code
    if field:
        assert answer.json()["extra"]["field"] == field


def test_a_body_above_the_limit_is_413(internal_client, seeded, settings):
    big = orjson.dumps({"ranges": [[0, 1]] * 60_000})
    answer = internal_client.post("/internal/v1/verify/checksums", big, content_type="application/json")
    assert answer.status_code == 413
    assert answer.json()["code"] == "payload_too_large"


def test_category_import_follows_the_version_rule(internal_client, seeded):
    renamed = {**CATEGORIES[2], "name": "Sound", "version": 2}
    body = {"categories": [renamed, CATEGORIES[0]]}
    answer = internal_client.post("/internal/v1/import/categories", body, format="json")
    assert answer.json() == {"applied": 1, "stale": 1, "deleted": 0}


def test_checksums_and_digests_match_the_contract_digests(internal_client, seeded):
    checksums = internal_client.post(
        "/internal/v1/verify/checksums", {"ranges": [[1, 11], [11, 100], [500, 600]]}, format="json"
    ).json()["ranges"]
    assert [(r["lo"], r["hi"], r["count"]) for r in checksums] == [(1, 11, 10), (11, 100, 20), (500, 600, 0)]
    digests = internal_client.post("/internal/v1/verify/digests", {"lo": 1, "hi": 4}, format="json").json()
    assert digests == {"digests": {str(i): doc_digest(seeded[i - 1]) for i in (1, 2, 3)}}


def test_sync_status_reports_count_and_max_version(internal_client, seeded):
    internal_client.post(IMPORT, {"products": [product_doc(2, version=42)]}, format="json")
    status = internal_client.get("/internal/v1/sync/status").json()
    assert status["products"] == 30
    assert status["max_version"] == 42
    assert status["last_applied_at"].endswith("Z")


def test_reserve_is_all_or_nothing_and_idempotent_per_reference(
    internal_client, api_client, seeded, django_capture_on_commit_callbacks
):
    reserve = "/internal/v1/stock/reserve"
    short = internal_client.post(
        reserve,
        {
            "reference": "order-1",
            "lines": [{"product_id": 4, "quantity": 1}, {"product_id": 5, "quantity": 1}],
        },
        format="json",
    )
    assert short.status_code == 409
    assert short.json()["code"] == "out_of_stock"
    assert short.json()["extra"]["lines"] == [{"product_id": 5, "requested": 1, "available": 0}]
    assert api_client.get("/api/v1/catalog/products/4").json()["stock"] == 4

    body = {"reference": "order-2", "lines": [{"product_id": 4, "quantity": 3}]}
    with django_capture_on_commit_callbacks(execute=True):  # the cache drops the product's old stock
        first = internal_client.post(reserve, body, format="json")
        again = internal_client.post(reserve, body, format="json")
    assert (first.status_code, again.status_code) == (201, 200)
    assert api_client.get("/api/v1/catalog/products/4").json()["stock"] == 1
    published = OutboxEvent.objects.filter(type="stock.reserved")
    assert [event.data for event in published] == [
        {"reference": "order-2", "lines": [{"product_id": 4, "quantity": 3}]}
    ]


def test_release_gives_the_stock_back_once(internal_client, api_client, seeded):
    body = {"reference": "order-3", "lines": [{"product_id": 4, "quantity": 2}]}
    internal_client.post("/internal/v1/stock/reserve", body, format="json")
    for _ in range(2):
        answer = internal_client.post("/internal/v1/stock/release", {"reference": "order-3"}, format="json")
        assert answer.json()["status"] == "released"
    assert api_client.get("/api/v1/catalog/products/4").json()["stock"] == 4
    assert OutboxEvent.objects.filter(type="stock.released").count() == 1
    unknown = internal_client.post("/internal/v1/stock/release", {"reference": "nope"}, format="json")
    assert unknown.status_code == 404
    assert unknown.json()["code"] == "reservation_not_found"


@pytest.mark.parametrize(
    "body",
    [
        {"reference": "bad ref!", "lines": [{"product_id": 1, "quantity": 1}]},
        {"reference": "r", "lines": []},
        {"reference": "r", "lines": [{"product_id": 1, "quantity": 0}]},
        {"reference": "r", "lines": [{"product_id": 1, "quantity": 1, "price": 3}]},
        # JSON types, never coerced: an integer reference once reserved stock (issue 12)
        {"reference": 12345, "lines": [{"product_id": 1, "quantity": 1}]},
        {"reference": "r", "lines": [{"product_id": "1", "quantity": 1}]},
        {"reference": "r", "lines": [{"product_id": 1, "quantity": 1.0}]},
    ],
)
def test_reserve_input_is_validated_strictly(internal_client, seeded, body):
    answer = internal_client.post("/internal/v1/stock/reserve", body, format="json")
    assert answer.status_code == 400
    assert answer.json()["code"] == "validation_error"


@pytest.mark.parametrize(
    "path",
    [
        IMPORT,
        "/internal/v1/import/categories",
        "/internal/v1/verify/checksums",
        "/internal/v1/verify/digests",
        "/internal/v1/stock/reserve",
        "/internal/v1/stock/release",
    ],
)
@pytest.mark.parametrize("nested", ["[" * 100_000 + "]" * 100_000, '{"a":' * 5000 + "1" + "}" * 5000])
def test_a_body_nested_too_deeply_is_a_400_not_a_500(internal_client, seeded, path, nested):
    """Found by fuzzing: the JSON decoder's RecursionError escaped DRF's parser as a 500."""
    answer = internal_client.generic("POST", path, nested, content_type="application/json")
    assert answer.status_code == 400
    assert answer.json() == {
        "code": "malformed_request",
        "message": "JSON parse error - the body is nested too deeply",
        "extra": {},
    }


def test_a_reserve_that_requires_the_owner_takes_nothing_until_the_service_owns_stock(
    internal_client, api_client, seeded, settings
):
    """The stock cutover's freeze: the monolith's checkout (require_owner) is 503 while it owns stock."""
    lines = [{"product_id": 4, "quantity": 1}]
    body = {"reference": "order-owner", "lines": lines, "require_owner": "service"}
    settings.PRODUCT_STOCK_OWNER = "monolith"
    frozen = internal_client.post("/internal/v1/stock/reserve", body, format="json")
    assert frozen.status_code == 503
    assert frozen.json()["code"] == "stock_not_owned"
    assert api_client.get("/api/v1/catalog/products/4").json()["stock"] == 4
    settings.PRODUCT_STOCK_OWNER = "service"
    taken = internal_client.post("/internal/v1/stock/reserve", body, format="json")
    assert taken.status_code == 201
    assert taken.json()["status"] == "reserved"
    bad = internal_client.post(
        "/internal/v1/stock/reserve", {**body, "require_owner": "monolith"}, format="json"
    )
    assert bad.status_code == 400


def test_the_monoliths_movements_enter_the_history_once_per_id_and_leave_the_level_alone(
    internal_client, api_client, seeded
):
    from contracts.events import Envelope
    from extracted.product_service.consumers import on_stock_moved
    from extracted.product_service.models import CatalogStockMovement

    def envelope_of(type_: str, data: dict) -> Envelope:
        return Envelope.new(type_, data, source="monolith")

    movement = {
        "id": 77, "product_id": 4, "delta": -1, "balance_after": 3, "reason": "reservation",
        "reference": "TS-1", "actor_id": None, "created_at": "2026-12-07T10:00:00.123456Z",
    }  # fmt: skip
    first = internal_client.post("/internal/v1/import/movements", {"movements": [movement]}, format="json")
    again = internal_client.post("/internal/v1/import/movements", {"movements": [movement]}, format="json")
    assert (first.json()["applied"], again.json()["applied"], again.json()["stale"]) == (1, 0, 1)
    on_stock_moved(envelope_of("catalog.stock.moved", {**movement, "id": 78}))  # the follow path
    on_stock_moved(envelope_of("catalog.stock.moved", {**movement, "id": 78}))
    rows = CatalogStockMovement.objects.filter(product_id=4).order_by("id")
    assert [(row.id, row.delta, row.balance_after) for row in rows] == [(77, -1, 3), (78, -1, 3)]
    assert api_client.get("/api/v1/catalog/products/4").json()["stock"] == 4  # the level is not the history's
    bad = internal_client.post(
        "/internal/v1/import/movements", {"movements": [{**movement, "reason": "gift"}]}, format="json"
    )
    assert bad.status_code == 400
