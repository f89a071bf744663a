"""POST /api/v1/payments/webhooks/<gateway>: HMAC, staleness, once-only storage, and what events change."""

import time

import pytest

from legacy_monolith.payments.models import Payment, Refund, WebhookEvent
from legacy_monolith.payments.services import payment_refund

from .conftest import APPROVED, signed_webhook

pytestmark = pytest.mark.django_db
URL = "/api/v1/payments/webhooks/{}"


def post(api_client, gateway: str, body: bytes, headers: dict):
    extra = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items() if k != "Content-Type"}
    return api_client.post(URL.format(gateway), data=body, content_type="application/json", **extra)


def event(**overrides) -> dict:
    return {
        "id": "evt_test_1",
        "type": "charge.captured",
        "created": int(time.time()),
        "data": {"object": "charge", "id": "ch_unknown"},
        **overrides,
    }


@pytest.fixture
def pending_northpay_refund(sandbox, charge):
    """A northpay refund our side recorded as pending, and the refund.succeeded event the gateway emitted."""
    payment = charge(APPROVED, gateway="northpay")
    refund = payment_refund(payment=payment, amount=None, reason="", actor=None, idempotency_key="np-refund")
    assert refund.status == Refund.Status.PENDING
    return refund, sandbox.wait_for_event("northpay", "refund.succeeded")


def test_a_signed_refund_succeeded_event_confirms_the_pending_refund(
    api_client, settings, pending_northpay_refund
):
    refund, emitted = pending_northpay_refund
    response = post(api_client, "northpay", *signed_webhook(emitted, settings.PAYMENT_WEBHOOK_SECRET))
    assert (response.status_code, response.json()) == (200, {"status": "processed"})
    refund.refresh_from_db()
    assert refund.status == Refund.Status.SUCCEEDED
    stored = WebhookEvent.objects.get()
    assert (stored.gateway, stored.event_id, stored.type) == ("northpay", emitted["id"], "refund.succeeded")
    assert stored.processed_at is not None


def test_a_redelivered_event_is_a_duplicate_and_changes_nothing(
    api_client, settings, pending_northpay_refund
):
    refund, emitted = pending_northpay_refund
    post(api_client, "northpay", *signed_webhook(emitted, settings.PAYMENT_WEBHOOK_SECRET))
    Refund.objects.filter(pk=refund.pk).update(
        status=Refund.Status.PENDING
    )  # would be re-confirmed if applied
    again = post(api_client, "northpay", *signed_webhook(emitted, settings.PAYMENT_WEBHOOK_SECRET))
    assert (again.status_code, again.json()) == (200, {"status": "duplicate"})
    assert WebhookEvent.objects.count() == 1
    refund.refresh_from_db()
    assert refund.status == Refund.Status.PENDING


def test_a_charge_captured_event_confirms_an_authorized_payment(api_client, settings, sandbox, charge):
    payment = charge(APPROVED)
    Payment.objects.filter(pk=payment.pk).update(status=Payment.Status.AUTHORIZED)
    emitted = sandbox.wait_for_event("cardinal", "charge.captured")
    response = post(api_client, "cardinal", *signed_webhook(emitted, settings.PAYMENT_WEBHOOK_SECRET))
    assert response.json() == {"status": "processed"}
    payment.refresh_from_db()
    assert payment.status == Payment.Status.CAPTURED


def test_a_refund_failed_event_gives_the_amount_back_to_the_payment(
    api_client, settings, pending_northpay_refund
):
    refund, emitted = pending_northpay_refund
    failed = {**emitted, "id": "NPE-failed-1", "type": "refund.failed"}
    response = post(api_client, "northpay", *signed_webhook(failed, settings.PAYMENT_WEBHOOK_SECRET))
    assert response.status_code == 200
    refund.refresh_from_db()
    payment = Payment.objects.select_related("order").get(pk=refund.payment_id)
    assert refund.status == Refund.Status.FAILED
    assert (payment.status, payment.amount_refunded, payment.order.status) == ("captured", 0, "paid")


def test_an_event_for_a_charge_we_do_not_know_is_stored_and_acknowledged(api_client, settings, sandbox):
    response = post(api_client, "cardinal", *signed_webhook(event(), settings.PAYMENT_WEBHOOK_SECRET))
    assert response.json() == {"status": "processed"}
    assert WebhookEvent.objects.filter(event_id="evt_test_1").exists()


@pytest.mark.parametrize(
    ("mangle", "reason"),
    [
        (lambda body, headers: (body, {**headers, "X-Sandbox-Signature": ""}), "missing"),
        (lambda body, headers: (body, {"Content-Type": "application/json"}), "missing"),
        (lambda body, headers: (body, {**headers, "X-Sandbox-Signature": "v1=abc"}), "malformed"),
        (lambda body, headers: (body, {**headers, "X-Sandbox-Signature": "t=12,v2=ab"}), "malformed"),
        (lambda body, headers: (body.replace(b"evt_test_1", b"evt_test_2"), headers), "mismatch"),
    ],
)
def test_a_bad_signature_is_refused_with_401(api_client, settings, sandbox, mangle, reason):
    body, headers = mangle(*signed_webhook(event(), settings.PAYMENT_WEBHOOK_SECRET))
    response = post(api_client, "cardinal", body, headers)
    assert response.status_code == 401
    assert response.json()["code"] == "webhook_signature_invalid"
    assert response.json()["extra"] == {"reason": reason}
    assert not WebhookEvent.objects.exists()


def test_a_body_signed_with_another_secret_is_refused(api_client, sandbox):
    response = post(api_client, "cardinal", *signed_webhook(event(), "not-our-secret"))
    assert (response.status_code, response.json()["code"]) == (401, "webhook_signature_invalid")


@pytest.mark.parametrize("age_seconds", [301, 3600, -301])
def test_a_stale_or_future_timestamp_is_refused_as_a_replay(api_client, settings, sandbox, age_seconds):
    body, headers = signed_webhook(
        event(), settings.PAYMENT_WEBHOOK_SECRET, timestamp=int(time.time()) - age_seconds
    )
    response = post(api_client, "cardinal", body, headers)
    assert response.status_code == 401
    assert response.json()["extra"] == {"reason": "stale"}


def test_a_timestamp_inside_the_tolerance_is_accepted(api_client, settings, sandbox):
    body, headers = signed_webhook(event(), settings.PAYMENT_WEBHOOK_SECRET, timestamp=int(time.time()) - 250)
    assert post(api_client, "cardinal", body, headers).status_code == 200


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"{not json", "malformed_request"),
        (b"[1, 2]", "webhook_payload_invalid"),
        (b'{"type": "charge.captured", "data": {}}', "webhook_payload_invalid"),
        (b'{"id": "evt_1", "type": "charge.captured", "data": "nope"}', "webhook_payload_invalid"),
        (
            b'{"id": "evt_1", "type": "charge.captured", "data": {"object": "dispute"}}',
            "webhook_payload_invalid",
        ),
        (b'{"id": "' + b"x" * 65 + b'", "type": "t", "data": {}}', "webhook_payload_invalid"),
    ],
)
def test_a_signed_but_malformed_event_is_a_400(api_client, settings, sandbox, body, code):
    from sandbox.signing import signed_headers

    response = post(api_client, "cardinal", body, signed_headers(settings.PAYMENT_WEBHOOK_SECRET, body))
    assert (response.status_code, response.json()["code"]) == (400, code)


def test_an_unknown_gateway_is_a_404(api_client, settings, sandbox):
    response = post(api_client, "paypal", *signed_webhook(event(), settings.PAYMENT_WEBHOOK_SECRET))
    assert (response.status_code, response.json()["code"]) == (404, "gateway_not_found")


def test_webhooks_need_no_login_but_only_accept_post(api_client, sandbox):
    assert api_client.get(URL.format("cardinal")).status_code == 405
