"""The catalog endpoints: JSON shapes, staff-only writes, and 4xx bodies for bad input."""

from decimal import Decimal

import pytest

from legacy_monolith.catalog.models import Category, Product, StockMovement
from tests.factories import CategoryFactory, ProductFactory

pytestmark = pytest.mark.django_db

BASE = "/api/v1/catalog"
PRODUCT_KEYS = {
    "id", "sku", "name", "slug", "description", "category", "price", "currency", "attributes",
    "image_urls", "stock", "in_stock", "weight_grams", "is_active", "created_at", "updated_at",
}  # fmt: skip


@pytest.fixture
def staff(client_for, staff_user):
    return client_for(staff_user)


@pytest.fixture
def shopper(client_for, customer):
    return client_for(customer)


@pytest.fixture
def laptops():
    return CategoryFactory(slug="laptops", name="Laptops")


def new_product_body(category, **overrides):
    return {
        "sku": "LAP-100",
        "name": "Ultrabook 14",
        "category_id": category.id,
        "price": "1299.00",
        "attributes": {"brand": "Acme", "ram_gb": 16},
        "image_urls": ["https://img.techstore.example/lap-100.jpg"],
        "stock": 12,
        "weight_grams": 1350,
        **overrides,
    }


def assert_error(response, status, code):
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"code", "message", "extra"}
    assert body["code"] == code
    return body


# --- categories -------------------------------------------------------------------------------


def test_anyone_can_list_categories_by_name(api_client):
    parent = CategoryFactory(slug="phones", name="Phones")
    child = CategoryFactory(slug="android", name="Android", parent=parent)
    body = api_client.get(f"{BASE}/categories").json()
    assert body["count"] == 2
    assert body["results"] == [
        {"id": child.id, "slug": "android", "name": "Android", "parent_id": parent.id},
        {"id": parent.id, "slug": "phones", "name": "Phones", "parent_id": None},
    ]


def test_staff_creates_a_category(staff, laptops):
    response = staff.post(
        f"{BASE}/categories", {"name": "Gaming Laptops", "parent_id": laptops.id}, format="json"
    )
    assert response.status_code == 201
    assert response.json() == {
        "id": Category.objects.get(slug="gaming-laptops").id,
        "slug": "gaming-laptops",
        "name": "Gaming Laptops",
        "parent_id": laptops.id,
    }


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"name": "Laptops"}, 409, "category_exists"),
        ({}, 400, "validation_error"),
        ({"name": "x" * 121}, 400, "validation_error"),
        ({"name": "Ok", "parent_id": "one"}, 400, "validation_error"),
        ({"name": "Ok", "parent_id": 10_000_000}, 400, "category_not_found"),
        ({"name": "Ok", "slug": "Not OK"}, 400, "invalid_slug"),
    ],
)
def test_category_create_refuses_bad_input(staff, laptops, body, status, code):
    assert_error(staff.post(f"{BASE}/categories", body, format="json"), status, code)


def test_customers_cannot_create_categories(shopper, api_client):
    assert_error(shopper.post(f"{BASE}/categories", {"name": "X"}, format="json"), 403, "permission_denied")
    assert_error(
        api_client.post(f"{BASE}/categories", {"name": "X"}, format="json"), 401, "not_authenticated"
    )
    assert not Category.objects.exists()


# --- products: create, read -------------------------------------------------------------------


def test_staff_creates_a_product_and_gets_the_contract_json(staff, laptops):
    response = staff.post(f"{BASE}/products", new_product_body(laptops), format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    product = Product.objects.get(sku="LAP-100")
    assert set(body) == PRODUCT_KEYS
    assert body | {"created_at": None, "updated_at": None} == {
        "id": product.id,
        "sku": "LAP-100",
        "name": "Ultrabook 14",
        "slug": "ultrabook-14",
        "description": "",
        "category": {"id": laptops.id, "slug": "laptops", "name": "Laptops"},
        "price": "1299.00",
        "currency": "EUR",
        "attributes": {"brand": "Acme", "ram_gb": 16},
        "image_urls": ["https://img.techstore.example/lap-100.jpg"],
        "stock": 12,
        "in_stock": True,
        "weight_grams": 1350,
        "is_active": True,
        "created_at": None,
        "updated_at": None,
    }
    assert body["created_at"].endswith("Z")
    assert StockMovement.objects.get(product=product).reason == StockMovement.Reason.INITIAL


def test_creating_the_same_sku_twice_is_a_conflict(staff, laptops):
    assert staff.post(f"{BASE}/products", new_product_body(laptops), format="json").status_code == 201
    body = assert_error(
        staff.post(f"{BASE}/products", new_product_body(laptops), format="json"), 409, "sku_exists"
    )
    assert body["extra"] == {"sku": "LAP-100"}
    assert Product.objects.count() == 1


@pytest.mark.parametrize(
    ("overrides", "status", "code"),
    [
        ({"sku": None}, 400, "validation_error"),
        ({"name": ""}, 400, "validation_error"),
        ({"name": "x" * 201}, 400, "validation_error"),
        ({"price": "abc"}, 400, "validation_error"),
        ({"price": "12.345"}, 400, "validation_error"),
        ({"price": "1e20"}, 400, "validation_error"),
        ({"price": "-5.00"}, 400, "invalid_price"),
        ({"category_id": "laptops"}, 400, "validation_error"),
        ({"category_id": 10_000_000}, 400, "category_not_found"),
        ({"stock": -1}, 400, "invalid_stock"),
        ({"stock": "lots"}, 400, "validation_error"),
        ({"stock": 10**30}, 400, "invalid_stock"),
        ({"weight_grams": -1}, 400, "invalid_weight"),
        ({"attributes": "red"}, 400, "invalid_attributes"),
        ({"attributes": {"dims": {"w": 1}}}, 400, "invalid_attributes"),
        ({"attributes": {"nul": "a\u0000b"}}, 400, "invalid_attributes"),
        ({"image_urls": ["not a url"]}, 400, "invalid_image_urls"),
        ({"image_urls": {"main": "https://x.example/a.jpg"}}, 400, "invalid_image_urls"),
        ({"currency": "EURO"}, 400, "validation_error"),
        ({"currency": "eur"}, 400, "invalid_currency"),
        ({"sku": "white space"}, 400, "invalid_sku"),
        ({"name": "a\u0000b"}, 400, "validation_error"),
        ({"is_active": "sometimes"}, 400, "validation_error"),
    ],
)
def test_product_create_refuses_bad_input(staff, laptops, overrides, status, code):
    response = staff.post(f"{BASE}/products", new_product_body(laptops, **overrides), format="json")
    assert_error(response, status, code)
    assert not Product.objects.exists()


@pytest.mark.parametrize(
    ("body", "code"),
    [("{not json", "malformed_request"), ("[1, 2]", "validation_error"), ('"text"', "validation_error")],
)
def test_product_create_refuses_bodies_that_are_not_a_json_object(staff, body, code):
    response = staff.generic("POST", f"{BASE}/products", body, content_type="application/json")
    assert_error(response, 400, code)


def test_product_create_refuses_a_non_json_content_type(staff, laptops):
    response = staff.post(f"{BASE}/products", "sku=X", content_type="application/x-www-form-urlencoded")
    assert_error(response, 415, "unsupported_media_type")


def test_customers_cannot_create_products(shopper, api_client, laptops):
    body = new_product_body(laptops)
    assert_error(shopper.post(f"{BASE}/products", body, format="json"), 403, "permission_denied")
    assert_error(api_client.post(f"{BASE}/products", body, format="json"), 401, "not_authenticated")
    assert not Product.objects.exists()


def test_anyone_can_read_an_active_product(api_client):
    product = ProductFactory(stock=0, price=Decimal("5.50"))
    body = api_client.get(f"{BASE}/products/{product.id}").json()
    assert set(body) == PRODUCT_KEYS
    assert (body["sku"], body["price"], body["stock"], body["in_stock"]) == (product.sku, "5.50", 0, False)


def test_an_unknown_product_is_product_not_found(api_client):
    body = assert_error(api_client.get(f"{BASE}/products/10000000"), 404, "product_not_found")
    assert body["extra"] == {"id": 10000000}
    assert_error(api_client.get(f"{BASE}/products/99999999999999999999999"), 404, "product_not_found")
    assert_error(api_client.get(f"{BASE}/products/abc"), 404, "not_found")


def test_an_inactive_product_is_hidden_from_customers_but_not_from_staff(api_client, shopper, staff):
    product = ProductFactory(is_active=False)
    assert_error(api_client.get(f"{BASE}/products/{product.id}"), 404, "product_not_found")
    assert_error(shopper.get(f"{BASE}/products/{product.id}"), 404, "product_not_found")
    assert staff.get(f"{BASE}/products/{product.id}").json()["is_active"] is False


# --- products: update, deactivate -------------------------------------------------------------


def test_staff_patches_some_fields_and_the_rest_stay(staff):
    product = ProductFactory(price=Decimal("10.00"), stock=4, attributes={"color": "black"})
    response = staff.patch(
        f"{BASE}/products/{product.id}",
        {"price": "12.50", "attributes": {"color": "white", "size": "XL"}, "description": "New"},
        format="json",
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["price"], body["attributes"], body["description"], body["stock"], body["name"]) == (
        "12.50",
        {"color": "white", "size": "XL"},
        "New",
        4,
        product.name,
    )
    product.refresh_from_db()
    assert product.price == Decimal("12.50")


def test_an_empty_patch_changes_nothing(staff):
    product = ProductFactory()
    response = staff.patch(f"{BASE}/products/{product.id}", {}, format="json")
    assert response.status_code == 200
    assert response.json()["updated_at"] == staff.get(f"{BASE}/products/{product.id}").json()["updated_at"]


def test_stock_cannot_be_patched(staff):
    product = ProductFactory(stock=4)
    response = staff.patch(f"{BASE}/products/{product.id}", {"stock": 400}, format="json")
    assert_error(response, 400, "stock_not_editable")
    product.refresh_from_db()
    assert product.stock == 4


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"price": "-1"}, 400, "invalid_price"),
        ({"price": "cheap"}, 400, "validation_error"),
        ({"sku": "TAKEN-1"}, 409, "sku_exists"),
        ({"category_id": 10_000_000}, 400, "category_not_found"),
        ({"attributes": [1]}, 400, "invalid_attributes"),
        ({"image_urls": ["ftp://x.example/a"]}, 400, "invalid_image_urls"),
        ({"name": None}, 400, "validation_error"),
    ],
)
def test_patch_refuses_bad_input(staff, body, status, code):
    ProductFactory(sku="TAKEN-1")
    product = ProductFactory(price=Decimal("10.00"))
    assert_error(staff.patch(f"{BASE}/products/{product.id}", body, format="json"), status, code)
    product.refresh_from_db()
    assert product.price == Decimal("10.00")


def test_patch_of_an_unknown_product_is_not_found(staff):
    assert_error(
        staff.patch(f"{BASE}/products/10000000", {"name": "x"}, format="json"), 404, "product_not_found"
    )


def test_staff_can_reactivate_a_product(staff):
    product = ProductFactory(is_active=False)
    response = staff.patch(f"{BASE}/products/{product.id}", {"is_active": True}, format="json")
    assert response.json()["is_active"] is True


def test_delete_deactivates_and_the_product_leaves_the_storefront(staff, api_client):
    product = ProductFactory()
    assert staff.delete(f"{BASE}/products/{product.id}").status_code == 204
    assert staff.delete(f"{BASE}/products/{product.id}").status_code == 204  # repeatable
    assert Product.objects.get(pk=product.id).is_active is False
    assert api_client.get(f"{BASE}/products").json()["count"] == 0
    assert_error(api_client.get(f"{BASE}/products/{product.id}"), 404, "product_not_found")


def test_delete_of_an_unknown_product_is_not_found(staff):
    assert_error(staff.delete(f"{BASE}/products/10000000"), 404, "product_not_found")


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("patch", "", {"name": "x"}),
        ("delete", "", None),
        ("post", "/stock", {"delta": 1, "reason": "restock"}),
        ("get", "/stock-movements", None),
    ],
)
def test_product_writes_and_stock_history_are_staff_only(shopper, api_client, method, suffix, body):
    product = ProductFactory(stock=3, name="Keep Me")
    url = f"{BASE}/products/{product.id}{suffix}"
    assert_error(getattr(shopper, method)(url, body, format="json"), 403, "permission_denied")
    assert_error(getattr(api_client, method)(url, body, format="json"), 401, "not_authenticated")
    product.refresh_from_db()
    assert (product.name, product.is_active, product.stock) == ("Keep Me", True, 3)


# --- stock ------------------------------------------------------------------------------------


def test_staff_restocks_and_gets_the_product_back(staff, staff_user):
    product = ProductFactory(stock=3)
    response = staff.post(
        f"{BASE}/products/{product.id}/stock",
        {"delta": 5, "reason": "restock", "reference": "PO-2026-001"},
        format="json",
    )
    assert response.status_code == 200, response.json()
    assert set(response.json()) == PRODUCT_KEYS
    assert (response.json()["stock"], response.json()["in_stock"]) == (8, True)
    movement = StockMovement.objects.filter(product=product).latest("id")
    assert (movement.delta, movement.balance_after, movement.reference, movement.actor_id) == (
        5,
        8,
        "PO-2026-001",
        staff_user.id,
    )


def test_an_adjustment_below_zero_is_insufficient_stock(staff):
    product = ProductFactory(stock=3)
    response = staff.post(
        f"{BASE}/products/{product.id}/stock", {"delta": -4, "reason": "adjustment"}, format="json"
    )
    body = assert_error(response, 409, "insufficient_stock")
    assert body["extra"] == {"product_id": product.id, "stock": 3, "delta": -4}
    product.refresh_from_db()
    assert product.stock == 3


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"delta": 0, "reason": "restock"}, 400, "invalid_delta"),
        ({"delta": "many", "reason": "restock"}, 400, "validation_error"),
        ({"delta": 1.5, "reason": "restock"}, 400, "validation_error"),
        ({"reason": "restock"}, 400, "validation_error"),
        ({"delta": 1}, 400, "validation_error"),
        ({"delta": 1, "reason": "reservation"}, 400, "validation_error"),
        ({"delta": 1, "reason": "initial"}, 400, "validation_error"),
        ({"delta": 1, "reason": "restock", "reference": "x" * 65}, 400, "validation_error"),
        ({"delta": 2**31, "reason": "restock"}, 400, "stock_limit_exceeded"),
        ({"delta": -(10**30), "reason": "adjustment"}, 409, "insufficient_stock"),
    ],
)
def test_stock_adjustment_refuses_bad_input(staff, body, status, code):
    product = ProductFactory(stock=3)
    assert_error(staff.post(f"{BASE}/products/{product.id}/stock", body, format="json"), status, code)
    assert StockMovement.objects.filter(product=product).count() == 1


def test_stock_of_an_unknown_product_is_not_found(staff):
    response = staff.post(f"{BASE}/products/10000000/stock", {"delta": 1, "reason": "restock"}, format="json")
    assert_error(response, 404, "product_not_found")
    assert_error(staff.get(f"{BASE}/products/10000000/stock-movements"), 404, "product_not_found")


def test_stock_movements_list_newest_first_with_balances(staff, staff_user):
    product = ProductFactory(stock=3)
    for delta, reason in ((5, "restock"), (-2, "adjustment"), (1, "return")):
        staff.post(f"{BASE}/products/{product.id}/stock", {"delta": delta, "reason": reason}, format="json")
    body = staff.get(f"{BASE}/products/{product.id}/stock-movements?page_size=3").json()
    assert body["count"] == 4
    rows = [(m["delta"], m["balance_after"], m["reason"], m["actor_id"]) for m in body["results"]]
    assert rows == [
        (1, 7, "return", staff_user.id),
        (-2, 6, "adjustment", staff_user.id),
        (5, 8, "restock", staff_user.id),
    ]
    assert set(body["results"][0]) == {
        "id",
        "delta",
        "balance_after",
        "reason",
        "reference",
        "actor_id",
        "created_at",
    }
    last_page = staff.get(f"{BASE}/products/{product.id}/stock-movements?page_size=3&page=2").json()
    assert [(m["delta"], m["reason"], m["actor_id"]) for m in last_page["results"]] == [(3, "initial", None)]
    assert_error(
        staff.get(f"{BASE}/products/{product.id}/stock-movements?page=3&page_size=3"), 404, "page_not_found"
    )
    assert_error(
        staff.get(f"{BASE}/products/{product.id}/stock-movements?page_size=500"), 400, "validation_error"
    )


def test_staff_may_restock_an_inactive_product(staff):
    product = ProductFactory(stock=0, is_active=False)
    response = staff.post(
        f"{BASE}/products/{product.id}/stock", {"delta": 2, "reason": "return"}, format="json"
    )
    assert response.json()["stock"] == 2


def test_oversized_bodies_are_refused_before_parsing(staff, settings):
    settings.MAX_REQUEST_BODY_BYTES = 1024
    response = staff.generic(
        "POST", f"{BASE}/products", '{"description": "' + "x" * 2000 + '"}', content_type="application/json"
    )
    assert_error(response, 413, "payload_too_large")
