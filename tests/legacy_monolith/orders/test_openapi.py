"""The orders endpoints appear in the OpenAPI schema with their own operation ids."""

import pytest

pytestmark = pytest.mark.django_db

OPERATIONS = {
    ("/api/v1/orders/cart", "get"): "orders_cart_get",
    ("/api/v1/orders/cart", "delete"): "orders_cart_clear",
    ("/api/v1/orders/cart/items", "post"): "orders_cart_item_add",
    ("/api/v1/orders/cart/items/{product_id}", "put"): "orders_cart_item_set",
    ("/api/v1/orders/cart/items/{product_id}", "delete"): "orders_cart_item_remove",
    ("/api/v1/orders/shipping/quote", "post"): "orders_shipping_quote",
    ("/api/v1/orders/coupons/validate", "post"): "orders_coupon_validate",
    ("/api/v1/orders/coupons", "get"): "orders_coupon_list",
    ("/api/v1/orders/coupons", "post"): "orders_coupon_create",
    ("/api/v1/orders/checkout", "post"): "orders_checkout",
    ("/api/v1/orders", "get"): "orders_list",
    ("/api/v1/orders/{number}", "get"): "orders_get",
    ("/api/v1/orders/{number}/cancel", "post"): "orders_cancel",
}


def test_every_orders_endpoint_is_documented(api_client):
    schema = api_client.get("/api/schema/", {"format": "json"}).json()
    found = {
        (path, method): op["operationId"]
        for path, ops in schema["paths"].items()
        for method, op in ops.items()
    }
    assert {key: found.get(key) for key in OPERATIONS} == OPERATIONS
    checkout = schema["paths"]["/api/v1/orders/checkout"]["post"]
    assert any(p["name"] == "Idempotency-Key" and p["in"] == "header" for p in checkout["parameters"])
    assert {"201", "200", "402", "503"} <= set(checkout["responses"])
