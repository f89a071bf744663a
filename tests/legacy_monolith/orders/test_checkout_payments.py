"""POST /checkout against the real sandbox gateways: paid, declined, refused by antifraud, gateway down,
and the Idempotency-Key replays. Every failure must leave the stock, the coupon and the cart as before."""

import uuid
from decimal import Decimal

import pytest
from django.utils import timezone

from legacy_monolith.catalog.models import Product, StockMovement
from legacy_monolith.orders.models import CouponRedemption, Order
from legacy_monolith.payments.models import BlockedBin, Payment
from tests.factories import CouponFactory

from .checkout_helpers import (
    CHECKOUT,
    DECLINED,
    INSUFFICIENT_FUNDS,
    body,
    cart_of,
    checkout,
    fill_cart,
    reasons_for,
    stock_of,
    times_used,
)

pytestmark = pytest.mark.django_db

R = StockMovement.Reason


@pytest.fixture(autouse=True)
def _rates(rate_table):
    return rate_table


def test_a_checkout_reserves_stock_charges_the_card_and_answers_201_paid(shopper, customer, sandbox):
    mouse, keyboard = fill_cart(customer, ("19.99", 2, 5), ("49.90", 1, 3))
    coupon = CouponFactory(code="WELCOME10", kind="percent", value=Decimal("10"))
    started = timezone.now()

    response = checkout(shopper, body(coupon_code="welcome10"))

    assert response.status_code == 201, response.json()
    order = response.json()
    assert order["status"] == "paid"
    assert (order["subtotal"], order["discount_total"], order["shipping_total"], order["total"]) == (
        "89.88",
        "8.99",
        "4.90",
        "85.79",
    )
    assert order["coupon_code"] == "WELCOME10"
    assert order["shipping"] == {
        "name": "Ada Lovelace",
        "line1": "10 rue de Rivoli",
        "city": "Paris",
        "postal_code": "75001",
        "country": "FR",
        "carrier": "colissimo",
    }
    assert [(i["product_id"], i["quantity"], i["line_total"]) for i in order["items"]] == [
        (mouse.id, 2, "39.98"),
        (keyboard.id, 1, "49.90"),
    ]
    assert order["payment"]["status"] == "captured"
    assert order["payment"]["gateway"] == "cardinal"
    assert order["payment"]["card_last4"] == "4242"
    assert order["paid_at"] is not None
    assert order["number"].startswith("TS-")

    stored = Order.objects.get(number=order["number"])
    assert stored.paid_at >= started
    assert (stock_of(mouse), stock_of(keyboard)) == (3, 2)
    assert reasons_for(mouse, order["number"]) == [R.RESERVATION]
    assert cart_of(customer) == {}
    assert times_used(coupon) == 1
    assert CouponRedemption.objects.get(order=stored).coupon_id == coupon.id
    payment = Payment.objects.get(order=stored)
    assert payment.amount == Decimal("85.79")
    assert len(sandbox.charges("cardinal")) == 1


def test_checkout_charges_current_prices_not_the_ones_the_cart_showed(shopper, customer, sandbox):
    (product,) = fill_cart(customer, ("10.00", 2))
    Product.objects.filter(pk=product.pk).update(price=Decimal("12.00"))
    order = checkout(shopper).json()
    assert (order["items"][0]["unit_price"], order["subtotal"], order["total"]) == ("12.00", "24.00", "28.90")
    assert Payment.objects.get(order__number=order["number"]).amount == Decimal("28.90")


def test_checkout_through_the_second_gateway(shopper, customer, sandbox):
    fill_cart(customer, ("10.00", 1))
    order = checkout(shopper, body(gateway="northpay")).json()
    assert (order["status"], order["payment"]["gateway"]) == ("paid", "northpay")
    assert len(sandbox.charges("northpay")) == 1
    assert sandbox.charges("cardinal") == []


def test_a_replay_with_the_same_key_returns_the_same_order_with_200_and_never_charges_twice(
    shopper, customer, sandbox
):
    (product,) = fill_cart(customer, ("10.00", 1))
    first = checkout(shopper, key="replay-key-0001")
    again = checkout(shopper, key="replay-key-0001")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert Order.objects.filter(user=customer).count() == 1
    assert Payment.objects.filter(user=customer).count() == 1
    assert len(sandbox.charges("cardinal")) == 1
    assert stock_of(product) == 9


def test_the_same_key_with_another_body_is_409_idempotency_key_reused(shopper, customer, sandbox):
    fill_cart(customer, ("10.00", 1))
    assert checkout(shopper, key="reused-key-0001").status_code == 201
    fill_cart(customer, ("5.00", 1))
    response = checkout(shopper, body(city="Lyon", postal_code="69001"), key="reused-key-0001")
    assert (response.status_code, response.json()["code"]) == (409, "idempotency_key_reused")
    assert Order.objects.filter(user=customer).count() == 1
    assert len(cart_of(customer)) == 1


def test_keys_are_per_customer(shopper, customer, client_for, sandbox):
    from tests.factories import UserFactory

    other = UserFactory()
    fill_cart(customer, ("10.00", 1))
    fill_cart(other, ("10.00", 1))
    assert checkout(shopper, key="shared-key-0001").status_code == 201
    assert checkout(client_for(other), key="shared-key-0001").status_code == 201


@pytest.mark.parametrize(
    ("card", "decline_code"), [(DECLINED, "card_declined"), (INSUFFICIENT_FUNDS, "insufficient_funds")]
)
def test_a_declined_card_is_402_and_puts_stock_coupon_and_cart_back(
    shopper, customer, sandbox, card, decline_code
):
    products = fill_cart(customer, ("30.00", 2, 4), ("5.00", 1, 1))
    coupon = CouponFactory(code="ONCE", usage_limit=1)
    cart_before = cart_of(customer)

    response = checkout(shopper, body(card=card, coupon_code="ONCE"))

    assert response.status_code == 402
    error = response.json()
    assert error["code"] == "payment_declined"
    assert error["extra"]["decline_code"] == decline_code
    order = Order.objects.get(number=error["extra"]["order_number"])
    assert order.status == Order.Status.PAYMENT_FAILED
    assert order.paid_at is None
    assert Payment.objects.get(order=order).status == Payment.Status.DECLINED
    assert [stock_of(p) for p in products] == [4, 1]
    assert reasons_for(products[0], order.number) == [R.RESERVATION, R.RELEASE]
    assert times_used(coupon) == 0
    assert not CouponRedemption.objects.filter(order=order).exists()
    assert cart_of(customer) == cart_before


def test_after_a_decline_the_customer_retries_with_another_card_and_the_coupon_still_works(
    shopper, customer, sandbox
):
    (product,) = fill_cart(customer, ("30.00", 2, 4))
    coupon = CouponFactory(code="ONCE", usage_limit=1)
    assert checkout(shopper, body(card=DECLINED, coupon_code="ONCE")).status_code == 402

    retry = checkout(shopper, body(coupon_code="ONCE"))

    assert retry.status_code == 201
    assert (retry.json()["status"], retry.json()["discount_total"]) == ("paid", "6.00")
    assert stock_of(product) == 2
    assert times_used(coupon) == 1
    assert cart_of(customer) == {}


def test_replaying_a_declined_checkout_repeats_the_402_without_a_new_charge(shopper, customer, sandbox):
    fill_cart(customer, ("30.00", 1))
    first = checkout(shopper, body(card=DECLINED), key="declined-key-01")
    again = checkout(shopper, body(card=DECLINED), key="declined-key-01")
    assert (first.status_code, again.status_code) == (402, 402)
    assert again.json() == first.json()
    assert Payment.objects.filter(user=customer).count() == 1
    assert Order.objects.filter(user=customer).count() == 1


def test_a_card_refused_by_antifraud_is_402_payment_rejected_fraud_and_never_reaches_the_gateway(
    shopper, customer, sandbox
):
    (product,) = fill_cart(customer, ("30.00", 1))
    BlockedBin.objects.create(bin="555555", reason="test: compromised issuer")
    response = checkout(shopper, body(card="5555555555554444"))
    assert (response.status_code, response.json()["code"]) == (402, "payment_rejected_fraud")
    order = Order.objects.get(number=response.json()["extra"]["order_number"])
    assert order.status == Order.Status.PAYMENT_FAILED
    assert stock_of(product) == product.stock
    assert cart_of(customer) == {product.id: 1}
    assert sandbox.charges("cardinal") == []


def test_a_gateway_that_is_down_is_503_and_the_stock_comes_back(shopper, customer, sandbox):
    (product,) = fill_cart(customer, ("30.00", 3, 3))
    coupon = CouponFactory(code="TENOFF", kind="fixed", value=Decimal("10"))
    sandbox.set_knobs("cardinal", error_rate=1.0)

    response = checkout(shopper, body(coupon_code="TENOFF"))

    assert (response.status_code, response.json()["code"]) == (503, "payment_gateway_unavailable")
    order = Order.objects.get(number=response.json()["extra"]["order_number"])
    assert order.status == Order.Status.PAYMENT_FAILED
    assert Payment.objects.get(order=order).status == Payment.Status.FAILED
    assert stock_of(product) == 3
    assert times_used(coupon) == 0
    assert cart_of(customer) == {product.id: 3}


def test_a_timed_out_charge_the_gateway_did_make_is_reconciled_and_the_order_is_paid(
    shopper, customer, sandbox, settings
):
    settings.PAYMENT_READ_TIMEOUT = 0.3
    fill_cart(customer, ("30.00", 1))
    sandbox.set_knobs("cardinal", timeout_rate=1.0, timeout_seconds=2, operations=["authorize"])
    response = checkout(shopper)
    assert (response.status_code, response.json()["status"]) == (201, "paid")


def test_a_gateway_that_times_out_for_good_is_503_and_the_stock_comes_back(
    shopper, customer, sandbox, settings
):
    settings.PAYMENT_READ_TIMEOUT = 0.3
    (product,) = fill_cart(customer, ("30.00", 1))
    sandbox.set_knobs("cardinal", timeout_rate=1.0, timeout_seconds=2, operations=["authorize", "status"])
    response = checkout(shopper)
    assert (response.status_code, response.json()["code"]) == (503, "payment_gateway_unavailable")
    assert stock_of(product) == product.stock
    assert cart_of(customer) == {product.id: 1}


def test_the_cart_restored_after_a_failure_keeps_what_was_added_meanwhile_within_99(
    shopper, customer, sandbox
):
    from legacy_monolith.orders.services import cart_item_add

    (product,) = fill_cart(customer, ("1.00", 60, 500))
    response = checkout(shopper, body(card=DECLINED))
    assert response.status_code == 402
    cart_item_add(user=customer, product_id=product.id, quantity=39)
    assert cart_of(customer) == {product.id: 99}


def test_the_charge_records_the_client_address_the_gateway_forwarded_not_the_gateway_s(
    shopper, customer, sandbox
):
    fill_cart(customer, ("19.99", 1, 5))
    forwarded = {"HTTP_X_FORWARDED_FOR": "203.0.113.7", "REMOTE_ADDR": "127.0.0.1"}
    response = shopper.post(
        CHECKOUT, body(), format="json", HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex, **forwarded
    )
    assert response.status_code == 201, response.json()
    assert Payment.objects.get(order__number=response.json()["number"]).client_ip == "203.0.113.7"


def test_a_client_cannot_choose_the_address_its_charge_records(shopper, customer, sandbox):
    fill_cart(customer, ("19.99", 1, 5))
    spoofed = {"HTTP_X_FORWARDED_FOR": "203.0.113.7", "REMOTE_ADDR": "198.51.100.20"}
    response = shopper.post(CHECKOUT, body(), format="json", HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex, **spoofed)
    assert response.status_code == 201, response.json()
    assert Payment.objects.get(order__number=response.json()["number"]).client_ip == "198.51.100.20"
