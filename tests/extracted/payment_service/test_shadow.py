"""Shadow copies of checkout (X-Strangler-Shadow: 1): the whole payment path against the providers' test
mode, nothing real charged, stored or published. The order's owner is a stand-in HTTP server here (the
monolith answering GET /api/v1/accounts/me and /api/v1/orders); tests/e2e/test_payments_shadow.py runs
the real monolith, gateway and comparator."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.utils import timezone

from chassis.outbox.models import OutboxEvent
from extracted.payment_service.models import AuditEntry, BlockedCountry, Payment, Refund, ShadowCharge
from tests.strangler_proxy.conftest import StandinUpstream

pytestmark = pytest.mark.django_db

CHECKOUT = {
    "shipping": {
        "name": "Ada",
        "line1": "10 rue de Rivoli",
        "city": "Paris",
        "postal_code": "75001",
        "country": "FR",
    },
    "payment": {
        "gateway": "cardinal",
        "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2030, "cvc": "123"},
    },
}
US_CARD = {"number": "4000056655665556", "exp_month": 12, "exp_year": 2030, "cvc": "123"}


@pytest.fixture
def order_owner(settings):
    """A stand-in for the order's owner: who the Token is (user 7) and the order just placed."""
    owner = StandinUpstream(name="monolith").start()
    state = {"order": {"number": "TS-SHADOW1", "total": "120.00", "currency": "EUR", "payment": {"id": 555}}}

    def respond(received):
        if received.path.startswith("/api/v1/accounts/me"):
            return 200, {"id": 7, "username": "ada", "email": "ada@example.com", "role": "customer"}
        if received.path.startswith("/api/v1/orders"):
            created = state.get("created_at") or timezone.now().isoformat()
            order = {**state["order"], "shipping": CHECKOUT["shipping"], "created_at": created}
            return 200, {"count": 1, "next": None, "previous": None, "results": [order]}
        return 404, {"code": "not_found"}

    owner.responder = respond
    settings.MONOLITH_URL = settings.PAYMENT_ORDER_LOOKUP_URL = owner.url
    yield state
    owner.stop()


def copy(
    api_client, body=None, *, key: str | None = None, marked: bool = True, received: float | None = None
):
    headers = {
        "HTTP_AUTHORIZATION": "Token legacy-token-of-ada",
        "HTTP_IDEMPOTENCY_KEY": key or f"shadow-{uuid.uuid4().hex}",
    }
    if marked:
        headers["HTTP_X_STRANGLER_SHADOW"] = "1"
    if received is not None:
        headers["HTTP_X_STRANGLER_SHADOW_RECEIVED"] = f"{received:.6f}"
    return api_client.post("/api/v1/orders/checkout", body or CHECKOUT, format="json", **headers)


def test_a_shadow_checkout_charges_only_the_test_mode_and_writes_no_business_row(
    providers, order_owner, api_client
):
    answer = copy(api_client, key="shadow-abc-0001")
    assert answer.status_code == 201, answer.json()
    assert answer.json() == {
        "payment": {
            "id": None,
            "status": "captured",
            "gateway": "cardinal",
            "card_last4": "4242",
            "card_brand": "visa",
        }
    }
    replay = copy(api_client, key="shadow-abc-0001")
    assert replay.status_code == 200
    assert replay.json() == answer.json()
    assert providers.charges("cardinal") == []  # the live ledger: nothing
    assert [c["status"] for c in providers.charges("cardinal-test")] == ["succeeded"]
    assert not Payment.objects.exists()
    assert not Refund.objects.exists()
    assert not OutboxEvent.objects.exists()
    assert not AuditEntry.objects.exists()
    assert ShadowCharge.objects.get().legacy_payment_id == 555


def test_a_replays_copy_that_overtakes_the_originals_is_still_answered_as_the_replay(
    providers, order_owner, api_client
):
    """The gateway received the checkout at t0, legacy created the order at t0+0.2 s, and the client's replay
    reached the gateway at t0+1 s; the replay's copy reaches the candidate first (the original's copy was
    slower, e.g. still authenticating its credential). Each copy answers what the monolith answered its
    request: the original 201, the replay 200, and the payment runs once."""
    t0 = timezone.now().timestamp() - 5
    order_owner["created_at"] = dt.datetime.fromtimestamp(t0 + 0.2, tz=dt.UTC).isoformat()
    replay = copy(api_client, key="shadow-overtaken", received=t0 + 1)
    original = copy(api_client, key="shadow-overtaken", received=t0)
    assert (original.status_code, replay.status_code) == (201, 200), (original.json(), replay.json())
    assert original.json() == replay.json()
    assert len(providers.charges("cardinal-test")) == 1
    # Not believed: a received time far from now, or not a number (then arrival order decides, as before).
    for received in ("nan", "1e30", str(t0 - 3600)):
        answer = api_client.post(
            "/api/v1/orders/checkout",
            CHECKOUT,
            format="json",
            HTTP_AUTHORIZATION="Token legacy-token-of-ada",
            HTTP_IDEMPOTENCY_KEY=f"shadow-{received}",
            HTTP_X_STRANGLER_SHADOW="1",
            HTTP_X_STRANGLER_SHADOW_RECEIVED=received,
        )
        assert answer.status_code == 201, answer.json()


def test_only_marked_requests_reach_the_candidate(providers, order_owner, api_client):
    answer = copy(api_client, marked=False)
    assert answer.status_code == 404
    assert answer.json()["code"] == "route_not_available"
    assert providers.charges("cardinal-test") == []


def test_refusals_answer_as_the_monolith_does(providers, order_owner, api_client):
    BlockedCountry.objects.create(code="FR")
    refused = copy(api_client)
    assert refused.status_code == 402
    assert refused.json()["code"] == "payment_rejected_fraud"
    assert refused.json()["extra"] == {"order_number": "TS-SHADOW1", "payment_id": None}
    BlockedCountry.objects.all().delete()
    declined = copy(
        api_client,
        {**CHECKOUT, "payment": {"card": {**CHECKOUT["payment"]["card"], "number": "4000000000000002"}}},
    )
    assert declined.status_code == 402
    assert declined.json()["message"] == "The card was declined (Declined)"
    assert declined.json()["extra"]["decline_code"] == "card_declined"
    invalid = copy(
        api_client, {**CHECKOUT, "payment": {"card": {**CHECKOUT["payment"]["card"], "exp_month": 13}}}
    )
    assert invalid.status_code == 400
    assert invalid.json()["code"] == "validation_error"


def test_a_mirrored_read_shows_what_the_shadow_decided_fraud_score_included(
    providers, order_owner, api_client, settings
):
    settings.PAYMENT_FRAUD_WEIGHTS = "country_mismatch=16"  # a planted one-point difference from the monolith
    copy(api_client, {**CHECKOUT, "payment": {"card": US_CARD}})
    read = api_client.get(
        "/api/v1/payments/555", HTTP_AUTHORIZATION="Token legacy-token-of-ada", HTTP_X_STRANGLER_SHADOW="1"
    )
    assert read.status_code == 200
    document = read.json()
    assert document["id"] == 555
    assert document["fraud_score"] == 16
    assert document["fraud_reasons"] == ["country_mismatch"]
    assert document["status"] == "captured"
    listed = api_client.get(
        "/api/v1/payments?order=TS-SHADOW1",
        HTTP_AUTHORIZATION="Token legacy-token-of-ada",
        HTTP_X_STRANGLER_SHADOW="1",
    )
    assert listed.json()["count"] == 1
    unmarked = api_client.get("/api/v1/payments/555", HTTP_AUTHORIZATION="Token legacy-token-of-ada")
    assert unmarked.status_code == 404  # real reads never see shadow charges


def test_no_fresh_order_means_legacy_refused_before_payment(providers, order_owner, api_client, settings):
    settings.PAYMENT_SHADOW_ORDER_WAIT_SECONDS = 1
    order_owner["created_at"] = "2020-01-01T00:00:00+00:00"  # the newest order is an old one
    answer = copy(api_client)
    assert answer.status_code == 409
    assert answer.json()["code"] == "shadow_order_not_found"
    assert providers.charges("cardinal-test") == []
    assert not ShadowCharge.objects.exists()  # the claim is released: a later copy may try again
