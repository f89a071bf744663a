"""The saga's state machine on the real database: every decision writes its transition and its next command
to the outbox in one transaction. Participants' replies are handed to `saga_reply`, exactly what the
orchestrator consumer does with a reply message (the broker path itself: test_saga_processes.py)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone

from chassis.outbox.models import OutboxEvent
from extracted.order_service.models import Cart, CartItem, Coupon, CouponRedemption, Order, Saga
from extracted.order_service.saga import engine

pytestmark = pytest.mark.django_db

CARD = {"token": "tok_1", "gateway": "cardinal", "brand": "visa", "last4": "4242"}


def start(order: Order) -> Saga:
    with transaction.atomic():
        return engine.saga_start(order=order, context={"client_ip": "127.0.0.1", "card": CARD})


def commands() -> list[tuple[str, dict]]:
    return [
        (row.type.rsplit(".", 1)[-1], row.data)
        for row in OutboxEvent.objects.filter(type__startswith="order_saga.command.").order_by("id")
    ]


def events() -> list[str]:
    return list(
        OutboxEvent.objects.filter(type__startswith="order.").order_by("id").values_list("type", flat=True)
    )


def answer(saga: Saga, outcome: str, **result) -> Saga:
    saga.refresh_from_db()
    engine.saga_reply(
        saga_id=str(saga.pk), step=saga.step, attempt=saga.attempt, outcome=outcome, result=result
    )
    saga.refresh_from_db()
    return saga


def test_a_checkout_saga_reserves_authorizes_confirms_and_captures(order_factory):
    order = order_factory()
    saga = start(order)
    [(action, first)] = commands()
    assert (action, first["payload"]["reference"]) == ("reserve_stock", f"order-{order.number}")
    assert first["payload"]["lines"] == [{"product_id": 11, "quantity": 2}]
    saga = answer(saga, "reserved")
    action, authorize = commands()[-1]
    assert (action, authorize["payload"]["idempotency_key"]) == (
        "authorize_payment",
        f"{order.number}:authorize",
    )
    assert authorize["payload"]["card"] == CARD
    assert authorize["payload"]["order"]["number"] == order.number
    saga = answer(
        saga, "authorized", payment_id="501", status="authorized", gateway="cardinal", card_last4="4242"
    )
    assert commands()[-1][0] == "capture_payment"  # confirm_order ran inline
    saga = answer(saga, "captured", payment_id="501", status="captured")
    order.refresh_from_db()
    assert (saga.state, order.status, order.payment_status, order.payment_id) == (
        "completed",
        "paid",
        "captured",
        "501",
    )
    assert order.paid_at is not None
    assert events() == ["order.created", "order.confirmed"]
    causes = [t.cause for t in saga.transitions.all()]
    assert causes[0].startswith("checkout accepted")
    assert causes[-1] == "order confirmed and paid"


def test_a_stock_refusal_fails_the_order_and_gives_the_cart_back(order_factory):
    order = order_factory(lines=((11, 2), (12, 1)))
    saga = answer(
        start(order), "refused", code="out_of_stock", message="Only 1 left", extra={"product_id": 11}
    )
    order.refresh_from_db()
    assert (saga.state, order.status, order.failure_code) == ("compensated", "rejected", "out_of_stock")
    assert [a for a, _ in commands()] == ["reserve_stock"]  # refused: nothing to release
    cart = Cart.objects.get(user_id=order.user_id)
    assert sorted(CartItem.objects.filter(cart=cart).values_list("product_id", "quantity")) == [
        (11, 2),
        (12, 1),
    ]
    assert events() == ["order.created", "order.failed"]


def test_a_declined_card_gives_the_coupon_and_the_stock_back(order_factory):
    coupon = Coupon.objects.create(code="SAVE5", kind="fixed", value=Decimal("5.00"), usage_limit=10)
    order = order_factory(coupon=coupon)
    saga = answer(start(order), "reserved")
    assert Coupon.objects.get(pk=coupon.pk).times_used == 1
    saga = answer(
        saga, "declined", payment_id="9", status="declined", code="card_declined", message="Declined"
    )
    assert (saga.step, commands()[-1][0]) == ("release_stock", "release_stock")
    assert Coupon.objects.get(pk=coupon.pk).times_used == 0
    assert not CouponRedemption.objects.exists()
    saga = answer(saga, "released")
    order.refresh_from_db()
    assert (saga.state, order.status, order.failure_code) == (
        "compensated",
        "payment_failed",
        "card_declined",
    )
    assert order.failure_extra["outcome"] == "declined"
    assert order.payment_id == "9"


def test_stale_and_repeated_replies_change_nothing(order_factory):
    saga = start(order_factory())
    saga = answer(saga, "reserved")
    moved = engine.saga_reply(
        saga_id=str(saga.pk), step="reserve_stock", attempt=1, outcome="reserved", result={}
    )
    assert not moved
    assert [a for a, _ in commands()] == ["reserve_stock", "authorize_payment"]


def test_an_unavailable_participant_is_retried_after_a_jittered_backoff(order_factory, settings):
    settings.ORDER_SAGA_RETRY_BASE_SECONDS = 0.5
    saga = start(order_factory())
    before = timezone.now()
    saga = answer(saga, "unavailable", message="connection refused")
    assert (saga.step, saga.attempt, saga.state) == ("reserve_stock", 2, "running")
    assert before <= saga.next_attempt_at <= timezone.now() + timedelta(seconds=0.5)  # jitter in [0, 0.5]
    Saga.objects.filter(pk=saga.pk).update(step_deadline=timezone.now() - timedelta(seconds=1))
    assert engine.saga_sweep() == 1
    resent = [data for action, data in commands() if action == "reserve_stock"]
    assert [data["attempt"] for data in resent] == [1, 2]


def test_a_step_that_never_answers_is_compensated_after_its_last_attempt(order_factory, settings):
    settings.ORDER_SAGA_MAX_ATTEMPTS = 2
    saga = start(order_factory())
    for _ in range(3):
        Saga.objects.filter(pk=saga.pk).update(step_deadline=timezone.now() - timedelta(seconds=1))
        engine.saga_sweep()
    saga.refresh_from_db()
    assert (saga.state, saga.step, saga.failure_code) == ("compensating", "release_stock", "step_timed_out")
    saga = answer(saga, "released")
    assert saga.state == "compensated"


def test_the_last_use_of_a_coupon_goes_to_one_saga_only(order_factory):
    coupon = Coupon.objects.create(code="LAST1", kind="percent", value=Decimal("10.00"), usage_limit=1)
    first = answer(start(order_factory(coupon=coupon)), "reserved")
    second = answer(start(order_factory(coupon=coupon, user_id=8)), "reserved")
    assert first.step == "authorize_payment"
    assert (second.state, second.failure_code) == ("compensating", "coupon_exhausted")
    assert Coupon.objects.get(pk=coupon.pk).times_used == 1
