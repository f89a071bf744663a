"""POST /checkout failures that stop before any payment: nothing may change when they happen."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from legacy_monolith.catalog.models import Product
from legacy_monolith.orders.models import Order, ShippingRule
from tests.factories import CouponFactory, ProductFactory

from .checkout_helpers import CHECKOUT, body, cart_of, checkout, fill_cart, stock_of, times_used
from .factories import CartItemFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _rates(rate_table):
    return rate_table


def assert_nothing_happened(user, products, cart_before):
    assert not Order.objects.filter(user=user).exists()
    assert cart_of(user) == cart_before
    for product in products:
        assert stock_of(product) == product.stock


def test_checkout_needs_an_idempotency_key(shopper, customer):
    fill_cart(customer, ("10.00", 1))
    response = shopper.post(CHECKOUT, body(), format="json")
    assert (response.status_code, response.json()["code"]) == (400, "idempotency_key_required")


@pytest.mark.parametrize("key", ["short", "x" * 65, "has space inside", "é" * 10, "a/b/c/d/e/f"])
def test_a_malformed_idempotency_key_is_refused(shopper, customer, key):
    fill_cart(customer, ("10.00", 1))
    response = checkout(shopper, key=key)
    assert (response.status_code, response.json()["code"]) == (400, "idempotency_key_invalid")


def test_an_empty_cart_is_400_cart_empty(shopper):
    response = checkout(shopper)
    assert (response.status_code, response.json()["code"]) == (400, "cart_empty")


def test_stock_gone_since_the_cart_was_filled_is_409_out_of_stock(shopper, customer):
    products = fill_cart(customer, ("10.00", 1), ("5.00", 3, 5))
    Product.objects.filter(pk=products[1].pk).update(stock=2)
    products[1].stock = 2
    before = cart_of(customer)
    response = checkout(shopper)
    assert (response.status_code, response.json()["code"]) == (409, "out_of_stock")
    assert response.json()["extra"] == {"product_id": products[1].id, "requested": 3, "available": 2}
    assert_nothing_happened(customer, products, before)


def test_a_product_withdrawn_since_the_cart_was_filled_is_409_product_unavailable(shopper, customer):
    products = fill_cart(customer, ("10.00", 1))
    Product.objects.filter(pk=products[0].pk).update(is_active=False)
    response = checkout(shopper)
    assert (response.status_code, response.json()["code"]) == (409, "product_unavailable")


def test_no_shipping_rule_for_the_address_is_422_shipping_unavailable(shopper, customer):
    products = fill_cart(customer, ("10.00", 1))
    ShippingRule.objects.all().delete()
    before = cart_of(customer)
    response = checkout(shopper)
    assert (response.status_code, response.json()["code"]) == (422, "shipping_unavailable")
    assert_nothing_happened(customer, products, before)


@pytest.mark.parametrize(
    ("coupon", "code"),
    [
        (None, "coupon_not_found"),
        ({"expires_at": timezone.now() - timedelta(minutes=1)}, "coupon_expired"),
        ({"valid_from": timezone.now() + timedelta(days=1)}, "coupon_not_yet_valid"),
        ({"is_active": False}, "coupon_inactive"),
        ({"usage_limit": 1, "times_used": 1}, "coupon_exhausted"),
        ({"min_order_total": Decimal("100")}, "coupon_min_order_not_met"),
    ],
)
def test_a_coupon_that_does_not_apply_stops_the_checkout_with_400(shopper, customer, coupon, code):
    products = fill_cart(customer, ("10.00", 2))
    if coupon is not None:
        coupon = CouponFactory(code="PROMO", **coupon)
    before = cart_of(customer)
    response = checkout(shopper, body(coupon_code="PROMO"))
    assert (response.status_code, response.json()["code"]) == (400, code)
    assert_nothing_happened(customer, products, before)
    if coupon is not None:
        assert times_used(coupon) == coupon.times_used


def test_the_minimum_order_is_checked_against_current_prices(shopper, customer):
    products = fill_cart(customer, ("60.00", 1))
    CouponFactory(code="BIG50", min_order_total=Decimal("50"))
    Product.objects.filter(pk=products[0].pk).update(price=Decimal("45.00"))
    response = checkout(shopper, body(coupon_code="BIG50"))
    assert response.json()["code"] == "coupon_min_order_not_met"


def test_a_fully_discounted_order_with_free_shipping_is_paid_without_a_charge(shopper, customer, rate_table):
    rate_table.price = Decimal("0")
    rate_table.save()
    products = fill_cart(customer, ("8.00", 1))
    coupon = CouponFactory(code="FREEBIE", kind="fixed", value=Decimal("20"))
    response = checkout(shopper, body(coupon_code="freebie"))
    assert response.status_code == 201
    order = response.json()
    assert (order["status"], order["total"], order["discount_total"], order["payment"]) == (
        "paid",
        "0.00",
        "8.00",
        None,
    )
    assert stock_of(products[0]) == products[0].stock - 1
    assert times_used(coupon) == 1


def body_with(path, value):
    payload = body()
    *parents, leaf = path.split(".")
    node = payload
    for name in parents:
        node = node[name]
    if value is ...:
        del node[leaf]
    else:
        node[leaf] = value
    return payload


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("shipping", ...),
        ("shipping", "75001 Paris"),
        ("shipping.name", ...),
        ("shipping.name", ""),
        ("shipping.name", "x" * 121),
        ("shipping.line1", None),
        ("shipping.city", ["Paris"]),
        ("shipping.country", "FRA"),
        ("shipping.country", 250),
        ("shipping.postal_code", "7500"),
        ("shipping.postal_code", "ABCDE"),
        ("payment", ...),
        ("payment", []),
        ("payment.gateway", "paypal"),
        ("payment.card", ...),
        ("payment.card", "4242424242424242"),
        ("payment.card.number", "4242"),
        ("payment.card.number", "4242-abcd-4242-4242"),
        ("payment.card.number", 4242424242424242),
        ("payment.card.exp_month", 13),
        ("payment.card.exp_month", 0),
        ("payment.card.exp_month", "12"),
        ("payment.card.exp_year", 99),
        ("payment.card.cvc", "12"),
        ("payment.card.cvc", "12a"),
        ("payment.card.cvc", ...),
        ("coupon_code", "X" * 33),
        ("coupon_code", {"code": "A"}),
    ],
)
def test_bad_checkout_bodies_are_400_validation_errors_and_change_nothing(shopper, customer, path, value):
    products = fill_cart(customer, ("10.00", 1))
    before = cart_of(customer)
    response = checkout(shopper, body_with(path, value))
    assert response.status_code == 400, response.json()
    assert response.json()["code"] == "validation_error"
    assert path.split(".")[0] in response.json()["extra"]["fields"]
    assert "4242424242424242" not in response.content.decode()
    assert_nothing_happened(customer, products, before)


@pytest.mark.parametrize("raw", ["{not json", "[]", "null", '"checkout"'])
def test_checkout_bodies_that_are_not_objects_are_400(shopper, customer, raw):
    fill_cart(customer, ("10.00", 1))
    response = shopper.generic(
        "POST", CHECKOUT, raw, content_type="application/json", HTTP_IDEMPOTENCY_KEY="k" * 16
    )
    assert response.status_code == 400
    assert response.json()["code"] in {"malformed_request", "validation_error"}


def test_checkout_needs_a_signed_in_customer(api_client):
    response = checkout(api_client)
    assert (response.status_code, response.json()["code"]) == (401, "not_authenticated")


def test_an_inactive_product_line_is_not_checked_out_even_when_another_line_is_fine(shopper, customer):
    good = ProductFactory(stock=5)
    gone = ProductFactory(stock=5, is_active=False)
    CartItemFactory(cart__user=customer, product=good, quantity=1)
    CartItemFactory(cart__user=customer, product=gone, quantity=1)
    response = checkout(shopper)
    assert response.json()["code"] == "product_unavailable"
    assert stock_of(good) == 5
