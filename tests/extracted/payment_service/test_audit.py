"""The payment audit trail on the kernel's keyed chain: every state change chained; an edited, removed or
cut entry, a trail rewritten without the key and a forged checkpoint are found."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command
from django.db import connection

from contracts import cli
from extracted.payment_service.audit import audit_verify
from extracted.payment_service.models import AuditEntry
from extracted.payment_service.services.charges import payment_advance, payment_create

from .conftest import charge_request

pytestmark = pytest.mark.django_db


@pytest.fixture
def trail(providers):
    payment, _ = payment_create(charge_request())
    payment_advance(payment.pk)
    events = list(AuditEntry.objects.order_by("seq").values_list("event", flat=True))
    assert events == ["payment.created", "payment.fraud_assessed", "payment.authorized", "payment.captured"]
    return payment


def _unguarded(sql: str, params) -> None:
    """Tamper as an attacker with the database owner's rights would (the append-only trigger disabled)."""
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE payment_service_auditentry DISABLE TRIGGER USER")
        cursor.execute(sql, params)
        cursor.execute("ALTER TABLE payment_service_auditentry ENABLE TRIGGER USER")


def test_the_trail_verifies_and_the_command_says_so(trail, capsys):
    assert audit_verify().ok
    call_command("payments", "audit", "verify", "--json")
    assert json.loads(capsys.readouterr().out)["entries"] == 4


def test_an_edited_entry_is_found(trail):
    _unguarded("UPDATE payment_service_auditentry SET data = %s WHERE seq = 3", ['{"to": "declined"}'])
    result = audit_verify()
    assert not result.ok
    assert result.bad_line == 3
    with pytest.raises(cli.CheckFailed):
        call_command("payments", "audit", "verify")


def test_a_removed_or_cut_entry_is_found(trail):
    _unguarded("DELETE FROM payment_service_auditentry WHERE seq = %s", [4])
    result = audit_verify()
    assert not result.ok
    assert "cut" in result.reason


def test_the_database_refuses_updates_of_the_trail(trail):
    from django.db import DatabaseError, transaction

    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEntry.objects.filter(seq=1).update(actor="someone else")


def test_a_trail_rewritten_without_the_key_is_found(trail):
    from extracted.payment_service.audit import entry_document
    from kernel.audit import GENESIS, AuditKey, seal
    from kernel.audit.chain import ChainHead

    forger = AuditKey("not-the-payment-audit-key-but-long-enough")
    head = ChainHead(0, GENESIS)
    for row in AuditEntry.objects.order_by("seq"):
        document = entry_document(row)
        document["data"] = {**document["data"], "forged": True}
        head = seal(forger, document, head)
        _unguarded(
            "UPDATE payment_service_auditentry SET data = %s, prev_hash = %s, hash = %s WHERE seq = %s",
            [json.dumps(document["data"]), document["prev_hash"], document["hash"], row.seq],
        )
    result = audit_verify()
    assert not result.ok
    assert result.bad_line == 1


def test_a_forged_checkpoint_is_found(trail):
    from extracted.payment_service.models import AuditCheckpoint

    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE payment_service_auditcheckpoint DISABLE TRIGGER USER")
        AuditCheckpoint.objects.update(sig="0" * 64)
        cursor.execute("ALTER TABLE payment_service_auditcheckpoint ENABLE TRIGGER USER")
    result = audit_verify()
    assert not result.ok
    assert "checkpoint" in result.reason
