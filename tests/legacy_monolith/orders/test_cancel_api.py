"""POST /orders/<number>/cancel: pending or paid orders only; a paid one is refunded in full first."""

from decimal import Decimal

import pytest
from django.db import transaction

from legacy_monolith.catalog.models import StockMovement
from legacy_monolith.catalog.services import stock_reserve
from legacy_monolith.orders.models import Order
from legacy_monolith.payments.models import Payment, Refund
from legacy_monolith.payments.services import payment_refund
from tests.factories import CouponFactory, OrderFactory, ProductFactory, UserFactory

from .checkout_helpers import body, checkout, fill_cart, reasons_for, stock_of, times_used

pytestmark = pytest.mark.django_db

R = StockMovement.Reason


def cancel(client, number):
    return client.post(f"/api/v1/orders/{number}/cancel", format="json")


@pytest.fixture
def paid_order(shopper, customer, sandbox, rate_table):
    """A real paid order: 2 units of a product with 5 in stock, a coupon used once, charged at the sandbox."""
    (product,) = fill_cart(customer, ("40.00", 2, 5))
    coupon = CouponFactory(code="CANCEL10", usage_limit=5)
    response = checkout(shopper, body(coupon_code="CANCEL10"))
    assert response.status_code == 201, response.json()
    return Order.objects.get(number=response.json()["number"]), product, coupon


def test_cancelling_a_paid_order_refunds_it_in_full_and_returns_stock_and_coupon(
    shopper, paid_order, sandbox
):
    order, product, coupon = paid_order
    assert stock_of(product) == 3

    response = cancel(shopper, order.number)

    assert response.status_code == 200, response.json()
    body_ = response.json()
    assert body_["status"] == "cancelled"
    assert body_["cancelled_at"] is not None
    assert body_["payment"]["status"] == "refunded"
    payment = Payment.objects.get(order=order)
    assert (payment.status, payment.amount_refunded) == (Payment.Status.REFUNDED, payment.amount)
    assert Refund.objects.get(payment=payment).amount == order.total
    assert stock_of(product) == 5
    assert reasons_for(product, order.number) == [R.RESERVATION, R.RELEASE]
    assert times_used(coupon) == 0


def test_cancelling_twice_is_409_and_nothing_happens_twice(shopper, paid_order, sandbox):
    order, product, coupon = paid_order
    assert cancel(shopper, order.number).status_code == 200

    again = cancel(shopper, order.number)

    assert (again.status_code, again.json()["code"]) == (409, "order_already_cancelled")
    assert stock_of(product) == 5
    assert reasons_for(product, order.number) == [R.RESERVATION, R.RELEASE]
    assert Refund.objects.filter(payment__order=order).count() == 1
    assert times_used(coupon) == 0


def test_when_the_refund_fails_the_order_stays_paid_and_the_answer_is_503(shopper, paid_order, sandbox):
    order, product, coupon = paid_order
    sandbox.set_knobs("cardinal", error_rate=1.0, operations=["refund"])

    response = cancel(shopper, order.number)

    assert (response.status_code, response.json()["code"]) == (503, "payment_gateway_unavailable")
    order.refresh_from_db()
    assert (order.status, order.cancelled_at) == (Order.Status.PAID, None)
    assert stock_of(product) == 3
    assert times_used(coupon) == 1

    sandbox.set_knobs("cardinal", error_rate=0.0)
    assert cancel(shopper, order.number).json()["status"] == "cancelled"
    assert stock_of(product) == 5


def test_a_cancel_interrupted_after_its_refund_is_finished_by_cancelling_again(
    shopper, customer, paid_order, sandbox
):
    order, product, _ = paid_order
    payment = Payment.objects.get(order=order)
    # What a crash between the refund and the stock release leaves behind: our own refund, order "refunded".
    payment_refund(
        payment=payment,
        amount=None,
        reason="cancel",
        actor=customer,
        idempotency_key=f"cancel-{order.number}",
    )
    assert Order.objects.get(pk=order.pk).status == Order.Status.REFUNDED

    response = cancel(shopper, order.number)

    assert response.json()["status"] == "cancelled"
    assert stock_of(product) == 5
    assert Refund.objects.filter(payment=payment).count() == 1


def test_an_order_refunded_by_staff_is_not_cancellable(shopper, staff_user, paid_order, sandbox):
    order, product, _ = paid_order
    payment_refund(
        payment=Payment.objects.get(order=order),
        amount=None,
        reason="goodwill",
        actor=staff_user,
        idempotency_key="staff-1",
    )
    response = cancel(shopper, order.number)
    assert (response.status_code, response.json()["code"]) == (409, "order_not_cancellable")
    assert stock_of(product) == 3


def test_cancelling_an_order_awaiting_payment_releases_its_stock_without_a_refund(shopper, customer):
    product = ProductFactory(stock=4)
    order = OrderFactory(user=customer, status=Order.Status.PENDING_PAYMENT, lines=[(product, 3)])
    with transaction.atomic():
        stock_reserve(lines=[(product.id, 3)], reference=order.number)

    response = cancel(shopper, order.number)

    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    assert stock_of(product) == 4
    assert reasons_for(product, order.number) == [R.RESERVATION, R.RELEASE]
    assert not Refund.objects.exists()


@pytest.mark.parametrize(
    "status",
    [
        Order.Status.SHIPPED,
        Order.Status.REFUNDED,
        Order.Status.PARTIALLY_REFUNDED,
        Order.Status.PAYMENT_FAILED,
    ],
)
def test_orders_past_payment_are_409_order_not_cancellable(shopper, customer, status):
    product = ProductFactory(stock=4)
    order = OrderFactory(user=customer, status=status, lines=[(product, 1)])
    response = cancel(shopper, order.number)
    assert (response.status_code, response.json()["code"]) == (409, "order_not_cancellable")
    assert response.json()["extra"]["status"] == status
    assert Order.objects.get(pk=order.pk).status == status
    assert stock_of(product) == 4


def test_someone_elses_order_cannot_be_cancelled_and_is_404(shopper):
    order = OrderFactory(user=UserFactory(), status=Order.Status.PAID)
    response = cancel(shopper, order.number)
    assert (response.status_code, response.json()["code"]) == (404, "order_not_found")
    assert Order.objects.get(pk=order.pk).status == Order.Status.PAID


def test_cancelling_an_unknown_order_is_404(shopper):
    assert cancel(shopper, "TS-NOPE").json()["code"] == "order_not_found"


def test_cancel_needs_a_signed_in_customer(api_client):
    assert cancel(api_client, "TS-00000001").status_code == 401


def test_a_paid_order_without_a_charge_is_cancelled_without_a_refund(shopper, customer, rate_table):
    rate_table.price = Decimal("0")
    rate_table.save()
    (product,) = fill_cart(customer, ("8.00", 1))
    CouponFactory(code="FREEBIE", kind="fixed", value=Decimal("20"))
    number = checkout(shopper, body(coupon_code="FREEBIE")).json()["number"]
    response = cancel(shopper, number)
    assert response.json()["status"] == "cancelled"
    assert stock_of(product) == product.stock
