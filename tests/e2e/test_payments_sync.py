"""`sync payments` between the monolith (this session's database) and a REAL Payment service (gunicorn, its
worker and outbox relay, its own database) over a RabbitMQ virtual host of the test's own: the monolith's
payment history goes to the service; a payment the service made comes back into the monolith's tables,
where it stays refundable after a rollback, and the monolith's refund goes back to the service; verify
compares both directions and --repair mends a difference."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
import requests
from django.core.management import call_command
from kombu import Connection, Queue

from contracts.event_trust import EVENT_KEYS_PATH
from legacy_monolith.demo.payments import running_payment_service
from legacy_monolith.payments.models import BlockedBin, Payment, Refund, WebhookEvent
from legacy_monolith.payments.services import payment_refund
from tests.background import rabbitmq_vhost, wait_until
from tests.factories import OrderFactory, UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def service(sandbox, settings, tmp_path):
    with (
        rabbitmq_vhost() as broker,
        running_payment_service(
            var_dir=tmp_path / "payments",
            sandbox_url=sandbox.base_url,
            broker_url=broker,
            relay=True,
            env={
                "PAYMENT_API_KEY": settings.PAYMENT_API_KEY,
                "PAYMENT_WEBHOOK_SECRET": settings.PAYMENT_WEBHOOK_SECRET,
            },
            workers=1,
        ) as payments,
    ):
        settings.PAYMENT_SERVICE_URL = payments.url
        settings.BROKER_URL = broker
        # zero trust (issue 20): the service's payment.synced events are signed by its relay process and the
        # monolith's consumer checks them against the service's /.well-known/event-keys.json
        settings.EVENT_SIGNATURES = "enforce"
        settings.EVENT_KEYS_URLS = {"payment_service": payments.url + EVENT_KEYS_PATH}
        payments.http = requests.Session()
        payments.http.headers["Authorization"] = f"Bearer {payments.token}"
        yield payments


def sync(*args: str) -> dict:
    """Run `manage.py sync payments ...`; its JSON result (exit 1 is a SystemExit(1))."""
    import io

    out = io.StringIO()
    call_command("sync", "payments", *args, "--json", stdout=out)
    return json.loads(out.getvalue())


def monolith_payment(**fields) -> Payment:
    order = OrderFactory()
    values = {
        "order": order,
        "user": order.user,
        "gateway": "cardinal",
        "gateway_ref": "ch_history_1",
        "idempotency_key": f"history-{order.number}",
        "amount": order.total,
        "status": Payment.Status.CAPTURED,
        "card_brand": "visa",
        "card_bin": "424242",
        "card_last4": "4242",
        "fraud_score": 15,
        "fraud_reasons": ["country_mismatch"],
        **fields,
    }
    return Payment.objects.create(**values)


def test_history_goes_to_the_service_and_verify_finds_and_repairs_a_difference(service):
    captured = monolith_payment()
    refunded = monolith_payment(gateway_ref="ch_history_2", status=Payment.Status.PARTIALLY_REFUNDED)
    Refund.objects.create(
        payment=refunded, amount=Decimal("1.00"), status="succeeded", idempotency_key="r-hist-1"
    )
    refunded.amount_refunded = Decimal("1.00")
    refunded.save()
    BlockedBin.objects.create(bin="666666", reason="test")
    WebhookEvent.objects.create(
        gateway="cardinal", event_id="evt_old", type="charge.captured", payload={"id": "evt_old"}
    )

    totals = sync("backfill", "--no-progress")
    assert totals["payments"]["applied"] == 2
    assert (totals["blocklists"], totals["webhook_events"]) == (1, 1)
    copies = {
        d["id"]: d for d in service.http.get(f"{service.url}/internal/v1/export/payments").json()["payments"]
    }
    assert copies[captured.pk]["gateway_ref"] == "ch_history_1"
    assert copies[refunded.pk]["refunds"][0]["amount"] == "1.00"
    assert sync("verify")["differences"] == []

    Payment.objects.filter(pk=captured.pk).update(
        status=Payment.Status.REFUNDED, amount_refunded=captured.amount
    )
    with pytest.raises(SystemExit) as found:
        sync("verify")
    assert found.value.code == 1
    repaired = sync("verify", "--repair")
    assert repaired["differences"] == []
    assert repaired["repaired"] == 1
    assert sync("backfill", "--no-progress")["payments"]["applied"] == 0  # copies apply by version: no-op


def test_a_service_payment_comes_back_stays_refundable_after_a_rollback_and_its_refund_goes_back(
    service, sandbox, settings
):
    user = UserFactory()
    order = OrderFactory(user=user)
    sync("follow", "--once")  # the consumer's queue exists before the service's events are relayed
    charge = service.http.post(
        f"{service.url}/internal/v1/payments",
        json={
            "order_number": order.number,
            "user_id": user.pk,
            "amount": f"{order.total:.2f}",
            "currency": "EUR",
            "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2030, "cvc": "123"},
            "idempotency_key": f"{order.number}:authorize",
        },
        timeout=10,
    ).json()
    status_url = f"{service.url}{charge['status_url']}"
    wait_until(
        lambda: service.http.get(status_url, timeout=5).json()["status"] == "captured", "the charge", 60
    )

    wait_until(
        lambda: (
            sync("follow", "--once") and Payment.objects.filter(pk=charge["id"], status="captured").exists()
        ),
        "the copy",
        90,
    )
    copy = Payment.objects.get(pk=charge["id"])
    assert (copy.origin, copy.order_id, copy.card_last4) == ("service", order.pk, "4242")
    assert copy.gateway_ref.startswith("ch_")
    keys = requests.get(service.url + EVENT_KEYS_PATH, timeout=5).json()["keys"]
    assert keys  # what the monolith verified the service's signed payment.synced with
    with Connection(settings.BROKER_URL) as conn:  # nothing was refused on the way
        dlq = Queue("monolith.service_payments.dlq", channel=conn.channel()).queue_declare(passive=True)
    assert dlq.message_count == 0

    # The route rolled back: the monolith refunds the service's payment at the provider itself.
    refund = payment_refund(
        payment=copy, amount=None, reason="rollback", actor=None, idempotency_key="after-rollback-1"
    )
    assert refund.status == Refund.Status.SUCCEEDED
    assert sandbox.charges("cardinal")[0]["amount_refunded"] == int(order.total * 100)

    sync("follow", "--once")
    wait_until(
        lambda: service.http.get(status_url, timeout=5).json()["status"] == "refunded", "the refund back", 60
    )
    assert sync("verify")["differences"] == []
