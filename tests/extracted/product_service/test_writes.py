"""Staff catalog writes at the Product service (route catalog.write): the monolith's v1 answers and rules,
ids from CATALOG_ID_OFFSET, and every write published through the outbox for the monolith's receive."""

from __future__ import annotations

import pytest
from django.conf import settings

from chassis.outbox.models import OutboxEvent
from contracts import product as contract
from contracts.identity import sign_identity
from extracted.product_service.models import CatalogStockMovement

from .documents import product_doc

pytestmark = pytest.mark.django_db(transaction=False)

KEY = "k" * 40
CATEGORIES = "/api/v1/catalog/categories"
PRODUCTS = "/api/v1/catalog/products"
NEW = {"sku": "NEW-1", "name": "New laptop", "category_id": 1, "price": "999.90", "stock": 5}


@pytest.fixture
def staff(settings, api_client):
    """Requests signed by the gateway for a staff user (id 7)."""
    settings.INTERNAL_IDENTITY_KEY = KEY

    def call(method: str, path: str, body=None, roles=("staff",)):
        value = sign_identity(
            key=KEY, user_id=7, roles=roles, scope=(), jti=f"j-{method}-{path}", method=method, path=path
        )
        send = getattr(api_client, method.lower())
        return send(path, body, format="json", HTTP_X_STRANGLER_IDENTITY=value)

    return call


def events(kind: str) -> list[dict]:
    return [row.data for row in OutboxEvent.objects.filter(type=kind).order_by("id")]


def test_a_staff_create_takes_an_id_of_the_service_block_and_is_published(seeded, staff):
    answer = staff("POST", PRODUCTS, NEW)
    assert answer.status_code == 201, answer.content
    body = answer.json()
    assert body["id"] > settings.CATALOG_ID_OFFSET
    assert (body["sku"], body["slug"], body["price"], body["stock"], body["in_stock"]) == (
        "NEW-1",
        "new-laptop",
        "999.90",
        5,
        True,
    )
    assert body["category"] == {"id": 1, "slug": "laptops", "name": "Laptops"}
    assert staff("GET", f"{PRODUCTS}/{body['id']}").json() == body
    [saved] = events(contract.PRODUCT_SAVED)
    assert (saved["id"], saved["version"]) == (body["id"], 0)
    [moved] = events(contract.STOCK_MOVED)
    assert (moved["product_id"], moved["delta"], moved["balance_after"], moved["reason"]) == (
        body["id"],
        5,
        5,
        "initial",
    )
    assert moved["actor_id"] == 7
    assert moved["id"] > settings.CATALOG_ID_OFFSET


def test_a_replayed_create_is_409_sku_exists_and_publishes_nothing_more(seeded, staff):
    assert staff("POST", PRODUCTS, NEW).status_code == 201
    again = staff("POST", PRODUCTS, NEW)
    assert again.status_code == 409
    assert again.json() == {
        "code": "sku_exists",
        "message": "A product with SKU 'NEW-1' exists",
        "extra": {"sku": "NEW-1"},
    }
    taken = staff("POST", PRODUCTS, {**NEW, "sku": "SKU-00003"})  # a product that came from the monolith
    assert taken.status_code == 409
    assert len(events(contract.PRODUCT_SAVED)) == 1


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({**NEW, "price": "-1"}, "invalid_price"),
        ({**NEW, "sku": "bad sku"}, "invalid_sku"),
        ({**NEW, "category_id": 99}, "category_not_found"),
        ({**NEW, "attributes": {"1x": 1}}, "invalid_attributes"),
        ({**NEW, "image_urls": ["ftp://x"]}, "invalid_image_urls"),
        ({**NEW, "slug": "Not A Slug"}, "invalid_slug"),
    ],
)
def test_bad_creates_are_the_monolith_s_400s(seeded, staff, body, code):
    answer = staff("POST", PRODUCTS, body)
    assert answer.status_code == 400
    assert answer.json()["code"] == code
    assert events(contract.PRODUCT_SAVED) == []


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/catalog/categories", {"name": 0}),
        (PRODUCTS, {**NEW, "sku": 12345}),
        (PRODUCTS, {**NEW, "category_id": "1"}),
        (PRODUCTS, {**NEW, "is_active": "true"}),
        (PRODUCTS, {**NEW, "stock": "5"}),
    ],
)
def test_json_types_are_never_coerced(seeded, staff, path, body):
    """A number where a string belongs (and the reverse) is a 400: DRF used to turn 0 into "0" (issue 12)."""
    answer = staff("POST", path, body)
    assert answer.status_code == 400
    assert answer.json()["code"] == "validation_error"
    assert events(contract.PRODUCT_SAVED) == []


def test_writes_need_a_staff_identity(seeded, staff, api_client):
    anonymous = api_client.post(PRODUCTS, NEW, format="json")
    assert anonymous.status_code == 401
    assert anonymous.json()["code"] == "not_authenticated"
    customer = staff("POST", PRODUCTS, NEW, roles=("customer",))
    assert customer.status_code == 403
    assert customer.json() == {"code": "permission_denied", "message": "Staff role required", "extra": {}}
    assert staff("GET", f"{PRODUCTS}/1/stock-movements", roles=("customer",)).status_code == 403


def test_a_patch_changes_the_given_fields_bumps_the_version_and_is_published(seeded, staff, store):
    answer = staff("PATCH", f"{PRODUCTS}/3", {"name": "Renamed", "price": "12.5", "category_id": 3})
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert (body["name"], body["price"], body["category"]["slug"], body["stock"]) == (
        "Renamed",
        "12.50",
        "audio",
        3,
    )
    stored = store.get_product(3, include_inactive=True)
    assert stored["version"] == 2  # the monolith's 1, plus one
    [saved] = events(contract.PRODUCT_SAVED)
    assert saved == stored
    same = staff("PATCH", f"{PRODUCTS}/3", {"name": "Renamed"})
    assert same.json() == body
    assert len(events(contract.PRODUCT_SAVED)) == 1  # nothing changed, nothing published


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"stock": 5}, 400, "stock_not_editable"),
        ({"sku": "SKU-00004"}, 409, "sku_exists"),
        ({"category_id": 42}, 400, "category_not_found"),
        ({"price": "1.234"}, 400, "validation_error"),
    ],
)
def test_bad_patches_change_nothing(seeded, staff, store, body, status, code):
    answer = staff("PATCH", f"{PRODUCTS}/3", body)
    assert (answer.status_code, answer.json()["code"]) == (status, code)
    assert store.get_product(3, include_inactive=True) == product_doc(3)
    assert events(contract.PRODUCT_SAVED) == []


def test_delete_deactivates_once_and_a_missing_product_is_404(seeded, staff, store):
    assert staff("DELETE", f"{PRODUCTS}/3").status_code == 204
    assert store.get_product(3, include_inactive=True)["is_active"] is False
    assert staff("DELETE", f"{PRODUCTS}/3").status_code == 204
    assert len(events(contract.PRODUCT_SAVED)) == 1
    missing = staff("DELETE", f"{PRODUCTS}/999")
    assert (missing.status_code, missing.json()["code"]) == (404, "product_not_found")


def test_stock_adjustments_keep_a_history_that_adds_up(seeded, staff):
    created = staff("POST", PRODUCTS, NEW).json()
    stock = f"{PRODUCTS}/{created['id']}/stock"
    assert staff("POST", stock, {"delta": 10, "reason": "restock", "reference": "PO-1"}).json()["stock"] == 15
    assert staff("POST", stock, {"delta": -4, "reason": "adjustment"}).json()["stock"] == 11
    short = staff("POST", stock, {"delta": -12, "reason": "adjustment"})
    assert short.status_code == 409
    assert short.json()["code"] == "insufficient_stock"
    assert short.json()["extra"] == {"product_id": created["id"], "stock": 11, "delta": -12}
    assert staff("POST", stock, {"delta": 0, "reason": "restock"}).json()["code"] == "invalid_delta"
    assert staff("POST", stock, {"delta": 1, "reason": "reservation"}).json()["code"] == "validation_error"
    history = staff("GET", f"{PRODUCTS}/{created['id']}/stock-movements").json()
    assert history["count"] == 3
    assert [(m["delta"], m["balance_after"], m["reason"], m["reference"]) for m in history["results"]] == [
        (-4, 11, "adjustment", ""),
        (10, 15, "restock", "PO-1"),
        (5, 5, "initial", ""),
    ]
    assert [m["id"] for m in events(contract.STOCK_MOVED)] == sorted(m["id"] for m in history["results"])
    assert staff("GET", f"{PRODUCTS}/999/stock-movements").json()["code"] == "product_not_found"


def test_categories_created_here_are_409_on_a_taken_slug(seeded, staff):
    answer = staff("POST", CATEGORIES, {"name": "Phones", "parent_id": 3})
    assert answer.status_code == 201
    body = answer.json()
    assert body["id"] > settings.CATALOG_ID_OFFSET
    assert (body["slug"], body["parent_id"]) == ("phones", 3)
    assert staff("POST", CATEGORIES, {"name": "Phones"}).json()["code"] == "category_exists"
    assert staff("POST", CATEGORIES, {"name": "X", "parent_id": 77}).json()["code"] == "category_not_found"
    [saved] = events(contract.CATEGORY_SAVED)
    assert saved == {**body, "version": 0}
    created = staff("POST", PRODUCTS, {**NEW, "category_id": body["id"]})
    assert created.json()["category"] == {"id": body["id"], "slug": "phones", "name": "Phones"}


def test_the_monolith_s_echo_of_an_edit_applies_over_it(seeded, staff, store):
    """The monolith applies the edit (its counter gives version >= 2) and sends it back: the store takes it,
    with the monolith's stock while the monolith owns stock."""
    staff("PATCH", f"{PRODUCTS}/3", {"name": "Renamed"})
    saved = events(contract.PRODUCT_SAVED)[0]
    echo = {**saved, "stock": 9, "version": 57}
    from extracted.product_service import services

    assert services.products_import(products=[echo]).applied == 1
    assert store.get_product(3, include_inactive=True) == echo
    assert CatalogStockMovement.objects.count() == 0


def test_export_gives_the_stored_documents_inactive_included(seeded, internal_client, store):
    answer = internal_client.post("/internal/v1/export/products", {"ids": [22, 3, 999, 3]}, format="json")
    assert answer.status_code == 200
    assert answer.json() == {"products": [store.get_product(3), store.get_product(22, include_inactive=True)]}
    refused = internal_client.post("/internal/v1/export/products", {"ids": [0]}, format="json")
    assert refused.status_code == 400
