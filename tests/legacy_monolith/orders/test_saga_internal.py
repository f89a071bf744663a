"""The monolith as the Order service's saga participant: /internal/v1/stock/* and /internal/v1/payments/*,
against the real sandbox gateways. Each call is keyed (a reference, an idempotency key), so a repeated call
answers the first outcome and takes or charges nothing twice."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from legacy_monolith.catalog.models import Product, StockMovement
from legacy_monolith.orders.models import Order
from legacy_monolith.payments.models import Payment
from tests.factories import ProductFactory, UserFactory

pytestmark = pytest.mark.django_db
CARD = {"number": "4242424242424242", "exp_month": 12, "exp_year": 2030, "cvc": "123", "holder": "Ada"}


@pytest.fixture
def internal(settings) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {settings.INTERNAL_API_TOKEN}")
    return client


def post(client, path: str, body: dict):
    return client.post(f"/internal/v1/{path}", body, format="json")


def service_order(user, product, *, number: str = "TS-261207-SAGA01", version: int = 2) -> dict:
    return {
        "number": number,
        "order_id": number,
        "origin": "service",
        "version": version,
        "user_id": user.id,
        "status": "pending_payment",
        "currency": "EUR",
        "subtotal": "20.00",
        "discount_total": "0.00",
        "shipping_total": "4.90",
        "total": "24.90",
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
                "sku": product.sku,
                "name": product.name,
                "unit_price": "10.00",
                "quantity": 2,
                "line_total": "20.00",
            }
        ],
        "payment": None,
        "failure": None,
        "created_at": timezone.now().isoformat(),
        "paid_at": None,
        "cancelled_at": None,
    }


def test_the_internal_api_needs_the_internal_token():
    assert (
        APIClient().post("/internal/v1/stock/release", {"reference": "x"}, format="json").status_code == 401
    )


def test_stock_is_reserved_once_per_reference_and_released_once(internal):
    product = ProductFactory(stock=5)
    lines = [{"product_id": product.id, "quantity": 2}]
    first = post(internal, "stock/reserve", {"reference": "order-TS-1", "lines": lines})
    again = post(internal, "stock/reserve", {"reference": "order-TS-1", "lines": lines})
    assert (first.status_code, again.status_code, again.json()["status"]) == (201, 200, "reserved")
    assert Product.objects.get(pk=product.pk).stock == 3
    released = [post(internal, "stock/release", {"reference": "order-TS-1"}) for _ in range(2)]
    assert [r.json()["status"] for r in released] == ["released", "released"]
    assert Product.objects.get(pk=product.pk).stock == 5
    late = post(internal, "stock/reserve", {"reference": "order-TS-1", "lines": lines})
    assert (late.status_code, late.json()["status"]) == (200, "released")  # a released reference stays so
    assert Product.objects.get(pk=product.pk).stock == 5
    assert StockMovement.objects.filter(reference="order-TS-1").count() == 2


def test_past_the_stock_cutover_the_monolith_reserves_nothing_but_still_releases(internal, settings):
    product = ProductFactory(stock=5)
    lines = [{"product_id": product.id, "quantity": 2}]
    post(internal, "stock/reserve", {"reference": "order-TS-OLD", "lines": lines})
    settings.PRODUCT_STOCK_OWNER = "service"
    refused = post(internal, "stock/reserve", {"reference": "order-TS-NEW", "lines": lines})
    assert (refused.status_code, refused.json()["code"]) == (503, "stock_owned_by_service")
    assert Product.objects.get(pk=product.pk).stock == 3
    released = post(internal, "stock/release", {"reference": "order-TS-OLD"})  # reserved before the cutover
    assert (released.status_code, released.json()["status"]) == (200, "released")
    assert Product.objects.get(pk=product.pk).stock == 5


def test_a_short_line_refuses_the_whole_reservation_with_the_monoliths_error(internal):
    plenty, short = ProductFactory(stock=9), ProductFactory(stock=1)
    lines = [{"product_id": plenty.id, "quantity": 1}, {"product_id": short.id, "quantity": 3}]
    answer = post(internal, "stock/reserve", {"reference": "order-TS-2", "lines": lines})
    assert (answer.status_code, answer.json()["code"]) == (409, "out_of_stock")
    assert answer.json()["extra"] == {"product_id": short.id, "requested": 3, "available": 1}
    assert Product.objects.get(pk=plenty.pk).stock == 9
    missing = post(internal, "stock/release", {"reference": "order-TS-2"})
    assert (missing.status_code, missing.json()["code"]) == (404, "reservation_not_found")


def test_a_saga_payment_is_tokenized_authorized_captured_and_kept_with_its_order(internal, sandbox):
    user, product = UserFactory(), ProductFactory()
    token = post(
        internal, "payments/tokenize", {"gateway": "cardinal", "user_id": user.id, "card": CARD}
    ).json()
    assert token["token"]
    assert (token["last4"], token["bin"]) == ("4242", "424242")
    assert "4242424242424242" not in str(token)
    body = {
        "idempotency_key": "TS-261207-SAGA01:authorize",
        "order": service_order(user, product),
        "amount": "24.90",
        "currency": "EUR",
        "card": token,
        "client_ip": "203.0.113.7",
    }
    authorized = post(internal, "payments/authorize", body).json()
    assert (authorized["outcome"], authorized["status"]) == ("authorized", "authorized")
    again = post(internal, "payments/authorize", body).json()
    assert again["payment_id"] == authorized["payment_id"]
    order = Order.objects.get(number="TS-261207-SAGA01")
    assert (order.origin, order.user_id, order.total, order.items.count()) == (
        "service",
        user.id,
        Decimal("24.90"),
        1,
    )
    ref = {"idempotency_key": "TS-261207-SAGA01:capture", "payment_id": authorized["payment_id"]}
    assert post(internal, "payments/capture", ref).json()["outcome"] == "captured"
    assert post(internal, "payments/capture", ref).json()["outcome"] == "captured"
    assert len([c for c in sandbox.charges("cardinal") if c["status"] == "succeeded"]) == 1
    refund = {**ref, "idempotency_key": "TS-261207-SAGA01:refund", "reason": "compensation"}
    assert post(internal, "payments/refund", refund).json()["outcome"] == "refunded"
    assert Payment.objects.get(pk=authorized["payment_id"]).status == "refunded"


def test_a_card_refused_at_tokenization_is_declined_at_authorization(internal, sandbox):
    user, product = UserFactory(), ProductFactory()
    expired = {**CARD, "exp_year": 2001}
    token = post(
        internal, "payments/tokenize", {"gateway": "cardinal", "user_id": user.id, "card": expired}
    ).json()
    assert token["token"] == ""
    assert token["error_code"]
    body = {
        "idempotency_key": "TS-261207-SAGA02:authorize",
        "order": service_order(user, product, number="TS-261207-SAGA02"),
        "amount": "24.90",
        "currency": "EUR",
        "card": token,
    }
    declined = post(internal, "payments/authorize", body).json()
    assert (declined["outcome"], declined["code"]) == ("declined", token["error_code"])


def test_void_releases_an_authorization_and_is_a_no_op_for_an_unknown_payment(internal, sandbox):
    user, product = UserFactory(), ProductFactory()
    token = post(
        internal, "payments/tokenize", {"gateway": "cardinal", "user_id": user.id, "card": CARD}
    ).json()
    number = "TS-261207-SAGA03"
    body = {
        "idempotency_key": f"{number}:authorize",
        "order": service_order(user, product, number=number),
        "amount": "24.90",
        "currency": "EUR",
        "card": token,
    }
    post(internal, "payments/authorize", body)
    void = {
        "idempotency_key": f"{number}:void",
        "payment_id": "",
        "authorize_key": f"{number}:authorize",
        "order_number": number,
        "reason": "stock gone",
    }
    assert post(internal, "payments/void", void).json()["outcome"] == "voided"
    assert Payment.objects.get(order__number=number).status == "voided"
    unknown = {**void, "authorize_key": "TS-NONE:authorize", "order_number": "TS-NONE"}
    assert post(internal, "payments/void", unknown).json()["outcome"] == "voided"


def test_an_unreachable_gateway_is_503_and_the_same_key_succeeds_later(internal, sandbox):
    user = UserFactory()
    sandbox.set_knobs("cardinal", error_rate=1.0)
    down = post(internal, "payments/tokenize", {"gateway": "cardinal", "user_id": user.id, "card": CARD})
    assert (down.status_code, down.json()["code"]) == (503, "payment_gateway_unavailable")


def test_a_void_that_overtakes_its_authorization_makes_the_late_authorization_charge_nothing(
    internal, sandbox
):
    """The saga drill found it: an authorize step timed out at the Order service, its compensation's void
    reached the monolith first (no payment yet: a no-op), then the authorization arrived and the card was
    charged for a failed order. Now the void leaves an AuthorizationVoid that the late authorization honours;
    a void that comes after it releases the payment as before."""
    user, product = UserFactory(), ProductFactory()
    token = post(
        internal, "payments/tokenize", {"gateway": "cardinal", "user_id": user.id, "card": CARD}
    ).json()
    number = "TS-261207-SAGA04"
    charges_before = len(sandbox.charges("cardinal"))
    void = {
        "idempotency_key": f"{number}:void",
        "payment_id": "",
        "authorize_key": f"{number}:authorize",
        "order_number": number,
        "reason": "step timed out",
    }
    assert post(internal, "payments/void", void).json()["outcome"] == "voided"
    assert post(internal, "payments/void", void).json()["outcome"] == "voided"  # idempotent
    body = {
        "idempotency_key": f"{number}:authorize",
        "order": service_order(user, product, number=number),
        "amount": "24.90",
        "currency": "EUR",
        "card": token,
    }
    late = post(internal, "payments/authorize", body).json()
    assert (late["outcome"], late["status"], late["code"]) == ("voided", "voided", "voided_before_authorize")
    assert post(internal, "payments/authorize", body).json()["payment_id"] == late["payment_id"]
    assert len(sandbox.charges("cardinal")) == charges_before  # nothing reached the gateway
    assert Payment.objects.get(order__number=number).status == "voided"
