"""coupon_redeem / coupon_redemption_undo: the usage limit holds under concurrent checkouts."""

import threading
from decimal import Decimal

import pytest
from django.db import connection, transaction

from legacy_monolith.core.errors import ApplicationError
from legacy_monolith.orders.models import Coupon, CouponRedemption
from legacy_monolith.orders.services import coupon_redeem, coupon_redemption_undo
from tests.factories import CouponFactory, OrderFactory, UserFactory


@pytest.mark.django_db
def test_redeeming_counts_one_use_and_records_it():
    coupon = CouponFactory(usage_limit=2)
    order = OrderFactory()
    with transaction.atomic():
        coupon_redeem(coupon=coupon, order=order, user=order.user)
    coupon.refresh_from_db()
    assert coupon.times_used == 1
    assert CouponRedemption.objects.get(order=order).coupon_id == coupon.id


@pytest.mark.django_db
def test_redeeming_past_the_limit_is_coupon_exhausted():
    coupon = CouponFactory(usage_limit=1, times_used=1)
    order = OrderFactory()
    with pytest.raises(ApplicationError) as caught, transaction.atomic():
        coupon_redeem(coupon=coupon, order=order, user=order.user)
    assert caught.value.code == "coupon_exhausted"
    assert Coupon.objects.get(pk=coupon.pk).times_used == 1


@pytest.mark.django_db
def test_redeeming_a_coupon_deactivated_meanwhile_names_the_reason():
    coupon = CouponFactory()
    Coupon.objects.filter(pk=coupon.pk).update(is_active=False)
    order = OrderFactory()
    with pytest.raises(ApplicationError) as caught, transaction.atomic():
        coupon_redeem(coupon=coupon, order=order, user=order.user)
    assert caught.value.code == "coupon_inactive"


@pytest.mark.django_db
def test_undoing_gives_the_use_back_once():
    coupon = CouponFactory(usage_limit=1)
    order = OrderFactory()
    with transaction.atomic():
        coupon_redeem(coupon=coupon, order=order, user=order.user)
    with transaction.atomic():
        coupon_redemption_undo(order=order)
    with transaction.atomic():
        coupon_redemption_undo(order=order)
    coupon.refresh_from_db()
    assert coupon.times_used == 0
    assert not CouponRedemption.objects.filter(order=order).exists()


@pytest.mark.django_db(transaction=True)
def test_concurrent_redemptions_never_pass_the_usage_limit():
    """Eight checkouts race for the last three uses: exactly three win, the rest get coupon_exhausted."""
    coupon = CouponFactory(value=Decimal("10"), usage_limit=3)
    orders = [OrderFactory(user=UserFactory()) for _ in range(8)]
    barrier = threading.Barrier(len(orders))
    outcomes: list[str] = []
    lock = threading.Lock()

    def checkout(order):
        try:
            barrier.wait(timeout=10)
            with transaction.atomic():
                coupon_redeem(coupon=coupon, order=order, user=order.user)
            result = "redeemed"
        except ApplicationError as exc:
            result = exc.code
        finally:
            connection.close()
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=checkout, args=(order,)) for order in orders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(outcomes) == ["coupon_exhausted"] * 5 + ["redeemed"] * 3
    coupon.refresh_from_db()
    assert coupon.times_used == 3
    assert CouponRedemption.objects.filter(coupon=coupon).count() == 3
