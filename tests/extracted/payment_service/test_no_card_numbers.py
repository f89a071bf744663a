"""No card number is ever stored or logged: charge, decline, refund and webhooks with a known PAN, then
grep every table of the service's database, every log record (DEBUG and up, every logger) and every event
for it, as digits and as the customer types it (groups of four, spaced or dashed)."""

from __future__ import annotations

import json
import logging
import time

import pytest
from django.db import connection

from chassis.outbox.models import OutboxEvent
from extracted.payment_service.services.charges import payment_advance, payment_create
from extracted.payment_service.services.refunds import payment_refund
from extracted.payment_service.services.webhooks import webhook_process
from sandbox.signing import signature

from .conftest import card, charge_request

pytestmark = pytest.mark.django_db

PAN = "4111111111111111"  # approved by the sandbox, BIN 411111 (US)
DECLINED_PAN = "4000000000000002"


def _forms(pan: str) -> list[str]:
    groups = [pan[i : i + 4] for i in range(0, 16, 4)]
    return [pan, " ".join(groups), "-".join(groups)]


def _every_table_as_text() -> str:
    chunks = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f'SELECT * FROM "{table}"')
            chunks.append(f"{table}: {cursor.fetchall()!r}")
    return "\n".join(chunks)


def test_a_card_number_appears_in_no_table_log_or_event(providers, settings, api_client, caplog, as_user):
    caplog.set_level(logging.DEBUG)
    payment, _ = payment_create(charge_request(card=card(PAN), gateway="northpay"))
    payment_advance(payment.pk)
    declined, _ = payment_create(charge_request(card=card(DECLINED_PAN)))
    payment_advance(declined.pk)
    payment_refund(payment_id=payment.pk, amount=None, reason="test", idempotency_key="refund-pan-0001")
    for event in providers.events("northpay"):
        body = json.dumps(event).encode()
        webhook_process(
            gateway="northpay",
            body=body,
            signature=signature(settings.PAYMENT_WEBHOOK_SECRET, body, int(time.time())),
        )
    answer = api_client.post(
        "/internal/v1/cards",
        {"number": PAN, "exp_month": 12, "exp_year": 2030, "cvc": "123"},
        format="json",
        HTTP_AUTHORIZATION=f"Bearer {settings.INTERNAL_API_TOKEN}",
    )
    assert answer.status_code == 201
    path = "/api/v1/payments"
    listing = api_client.get(path, **as_user(1, "staff", "GET", path)).content.decode()

    haystacks = {
        "tables": _every_table_as_text(),
        "logs": "\n".join(f"{r.getMessage()} {r.__dict__!r}" for r in caplog.records),
        "events": json.dumps([e.data for e in OutboxEvent.objects.all()]),
        "api": listing,
    }
    assert OutboxEvent.objects.exists()
    assert caplog.records
    for where, text in haystacks.items():
        for pan in (PAN, DECLINED_PAN):
            for form in _forms(pan):
                assert form not in text, f"{form} found in {where}"
    assert "1111" in haystacks["api"]  # the last four digits are kept, as the contract says
