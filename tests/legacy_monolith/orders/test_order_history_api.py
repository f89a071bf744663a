"""GET /orders/ (the caller's history) and GET /orders/<number>."""

from decimal import Decimal

import pytest
from django.utils import timezone

from legacy_monolith.payments.models import Payment
from tests.factories import CouponFactory, OrderFactory, ProductFactory, UserFactory

pytestmark = pytest.mark.django_db

ORDERS = "/api/v1/orders"


def test_the_history_lists_only_the_callers_orders_newest_first(shopper, customer):
    first = OrderFactory(user=customer)
    second = OrderFactory(user=customer)
    OrderFactory(user=UserFactory())
    body = shopper.get(ORDERS).json()
    assert body["count"] == 2
    assert [o["number"] for o in body["results"]] == [second.number, first.number]


def test_the_history_is_paginated(shopper, customer):
    for _ in range(3):
        OrderFactory(user=customer)
    body = shopper.get(ORDERS, {"page_size": 2}).json()
    assert (body["count"], len(body["results"]), body["previous"]) == (3, 2, None)
    assert "page=2" in body["next"]
    assert shopper.get(ORDERS, {"page": 9}).status_code == 404


def test_an_order_renders_the_contracts_json(shopper, customer):
    product = ProductFactory(price=Decimal("25.00"))
    coupon = CouponFactory(code="TAKE5", kind="fixed", value=Decimal("5"))
    order = OrderFactory(
        user=customer,
        lines=[(product, 2)],
        coupon=coupon,
        discount_total=Decimal("5.00"),
        shipping_total=Decimal("4.90"),
        shipping_carrier="colissimo",
        paid_at=timezone.now(),
    )
    Payment.objects.create(
        order=order,
        user=customer,
        gateway="cardinal",
        idempotency_key="k1",
        amount=order.total,
        status=Payment.Status.CAPTURED,
        card_brand="visa",
        card_last4="4242",
    )
    body = shopper.get(f"/api/v1/orders/{order.number}").json()
    payment = Payment.objects.get(order=order)
    assert body == {
        "number": order.number,
        "status": "paid",
        "currency": "EUR",
        "subtotal": "50.00",
        "discount_total": "5.00",
        "shipping_total": "4.90",
        "total": "49.90",
        "coupon_code": "TAKE5",
        "shipping": {
            "name": "Ada Lovelace",
            "line1": "1 rue de Rivoli",
            "city": "Paris",
            "postal_code": "75001",
            "country": "FR",
            "carrier": "colissimo",
        },
        "items": [
            {
                "product_id": product.id,
                "sku": product.sku,
                "name": product.name,
                "unit_price": "25.00",
                "quantity": 2,
                "line_total": "50.00",
            }
        ],
        "payment": {
            "id": payment.id,
            "status": "captured",
            "gateway": "cardinal",
            "card_last4": "4242",
            "card_brand": "visa",
        },
        "created_at": body["created_at"],
        "paid_at": body["paid_at"],
        "cancelled_at": None,
    }
    assert body["created_at"].endswith("Z")
    assert body["paid_at"].endswith("Z")


def test_the_payment_shown_is_the_latest_attempt(shopper, customer):
    order = OrderFactory(user=customer)
    for key, status in (("a1", Payment.Status.DECLINED), ("a2", Payment.Status.CAPTURED)):
        Payment.objects.create(
            order=order, user=customer, gateway="cardinal", idempotency_key=key, amount=1, status=status
        )
    assert shopper.get(f"/api/v1/orders/{order.number}").json()["payment"]["status"] == "captured"


def test_an_order_without_payment_shows_null(shopper, customer):
    order = OrderFactory(user=customer, status="pending_payment")
    body = shopper.get(f"/api/v1/orders/{order.number}").json()
    assert (body["payment"], body["coupon_code"], body["status"]) == (None, None, "pending_payment")


@pytest.mark.parametrize("number", ["TS-NOPE", "ts-00000001", "x" * 50, "%00"])
def test_a_missing_order_is_404_order_not_found(shopper, number):
    response = shopper.get(f"/api/v1/orders/{number}")
    assert (response.status_code, response.json()["code"]) == (404, "order_not_found")


def test_someone_elses_order_is_404_not_403(shopper):
    order = OrderFactory(user=UserFactory())
    response = shopper.get(f"/api/v1/orders/{order.number}")
    assert (response.status_code, response.json()["code"]) == (404, "order_not_found")


@pytest.mark.parametrize("path", [ORDERS, "/api/v1/orders/TS-00000001"])
def test_orders_need_a_signed_in_customer(api_client, path):
    assert api_client.get(path).status_code == 401


def test_the_history_costs_a_fixed_number_of_queries(shopper, customer, django_assert_max_num_queries):
    for _ in range(5):
        OrderFactory(user=customer, lines=[(ProductFactory(), 1), (ProductFactory(), 2)])
    with django_assert_max_num_queries(8):
        assert len(shopper.get(ORDERS).json()["results"]) == 5
