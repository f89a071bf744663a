"""The Order service's orders kept in the monolith's tables (acl_adapters.orders.translate), by version."""

from __future__ import annotations

import pytest
from django.utils import timezone

from acl_adapters.orders.translate import order_document, order_mirror_apply
from legacy_monolith.orders.models import Order
from tests.factories import OrderFactory, ProductFactory, UserFactory

pytestmark = pytest.mark.django_db


def document(
    user, product, *, version: int, status: str = "pending_payment", number="TS-261207-MIRROR"
) -> dict:
    return {
        "number": number,
        "order_id": number,
        "origin": "service",
        "version": version,
        "user_id": user.id,
        "status": status,
        "currency": "EUR",
        "subtotal": "10.00",
        "discount_total": "0.00",
        "shipping_total": "4.90",
        "total": "14.90",
        "coupon_code": None,
        "shipping": {
            "name": "Ada",
            "line1": "1 rue",
            "city": "Paris",
            "postal_code": "75001",
            "country": "FR",
            "carrier": "colissimo",
        },
        "lines": [
            {
                "product_id": product.id,
                "sku": "S",
                "name": "N",
                "unit_price": "10.00",
                "quantity": 1,
                "line_total": "10.00",
            }
        ],
        "payment": None,
        "failure": None,
        "created_at": timezone.now().isoformat(),
        "paid_at": None,
        "cancelled_at": None,
    }


def test_a_newer_document_updates_the_copy_and_an_older_or_equal_one_does_not():
    user, product = UserFactory(), ProductFactory()
    assert order_mirror_apply(document(user, product, version=2))[1] == "created"
    assert order_mirror_apply(document(user, product, version=3, status="payment_failed"))[1] == "updated"
    assert order_mirror_apply(document(user, product, version=2, status="paid"))[1] == "stale"
    order = Order.objects.get(number="TS-261207-MIRROR")
    assert (order.origin, order.origin_version, order.status, order.items.count()) == (
        "service",
        3,
        "payment_failed",
        1,
    )


def test_a_rejected_order_is_no_order_here_and_the_monoliths_own_orders_are_never_overwritten():
    user, product = UserFactory(), ProductFactory()
    order_mirror_apply(document(user, product, version=2))
    assert order_mirror_apply(document(user, product, version=3, status="rejected"))[1] == "dropped"
    assert not Order.objects.filter(number="TS-261207-MIRROR").exists()
    own = OrderFactory()
    assert order_mirror_apply(document(user, product, version=9, number=own.number))[1] == "not_ours"
    assert order_document(own)["origin"] == "monolith"
