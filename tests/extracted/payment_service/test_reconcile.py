"""The reconciler: a payment recorded failed whose charge really happened is given back, audited;
lost answers are adopted; `--dry-run` changes nothing."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.core.management import call_command
from django.utils import timezone

from extracted.payment_service.audit import audit_verify
from extracted.payment_service.models import AuditEntry, Payment
from extracted.payment_service.providers import ProviderUnavailable
from extracted.payment_service.services.charges import payment_advance, payment_create, payment_give_up
from extracted.payment_service.services.reconcile import payment_reconcile_one, payments_reconcile

from .conftest import charge_request

pytestmark = pytest.mark.django_db


def _failed_after_the_provider_acted(providers, settings, operations) -> Payment:
    """A payment whose provider calls all timed out (the work done, the answers lost), then given up."""
    settings.PAYMENT_READ_TIMEOUT = 0.3
    payment, _ = payment_create(charge_request())
    providers.set_knobs("cardinal", timeout_rate=1.0, timeout_seconds=0.8, operations=operations)
    with pytest.raises(ProviderUnavailable):
        payment_advance(payment.pk)
    payment = payment_give_up(payment.pk, reason="deadline passed")
    providers.set_knobs("cardinal", timeout_rate=0.0)
    assert payment.status == Payment.Status.FAILED
    assert payment.outcome_unknown
    return payment


def test_a_failed_payment_whose_capture_happened_is_refunded_and_audited(providers, settings):
    settings.PAYMENT_READ_TIMEOUT = 0.3
    payment, _ = payment_create(charge_request())
    providers.set_knobs("cardinal", timeout_rate=1.0, timeout_seconds=0.8, operations=["capture", "status"])
    with pytest.raises(ProviderUnavailable):
        payment_advance(payment.pk)  # authorized; the capture happened but its answer was lost
    Payment.objects.filter(pk=payment.pk).update(status=Payment.Status.FAILED, outcome_unknown=True)
    providers.set_knobs("cardinal", timeout_rate=0.0)
    assert providers.charges("cardinal")[0]["status"] == "succeeded"
    assert payment_reconcile_one(payment.pk) == "refunded"
    payment.refresh_from_db()
    assert payment.status == Payment.Status.REFUNDED
    assert not payment.outcome_unknown
    assert payment.reconciled_at
    assert providers.charges("cardinal")[0]["amount_refunded"] == 4990
    assert AuditEntry.objects.filter(payment_id=payment.pk, event="payment.reconciled_refund").exists()
    assert audit_verify().ok
    assert payment_reconcile_one(payment.pk) == "nothing"  # settled: a second run changes nothing


def test_a_failed_payment_whose_authorization_happened_is_voided(providers, settings):
    payment = _failed_after_the_provider_acted(providers, settings, ["authorize", "status"])
    assert providers.charges("cardinal")[0]["status"] == "authorized"
    assert payment_reconcile_one(payment.pk) == "voided"
    assert Payment.objects.get(pk=payment.pk).status == Payment.Status.VOIDED
    assert providers.charges("cardinal")[0]["status"] == "canceled"
    assert AuditEntry.objects.filter(payment_id=payment.pk, event="payment.reconciled_void").exists()


def test_dry_run_reports_and_changes_nothing(providers, settings, capsys):
    payment = _failed_after_the_provider_acted(providers, settings, ["authorize", "status"])
    before = AuditEntry.objects.count()
    call_command("payments", "reconcile", "--dry-run", "--json")
    report = json.loads(capsys.readouterr().out)
    assert report["actions"] == {"would_void": 1}
    assert report["dry_run"] is True
    assert Payment.objects.get(pk=payment.pk).status == Payment.Status.FAILED
    assert AuditEntry.objects.count() == before
    assert providers.charges("cardinal")[0]["status"] == "authorized"
    call_command("payments", "reconcile", "--since", "1h", "--json")
    assert json.loads(capsys.readouterr().out)["actions"]["voided"] == 1


def test_a_pending_payment_past_its_deadline_that_the_provider_never_saw_fails(providers):
    payment, _ = payment_create(charge_request())
    Payment.objects.filter(pk=payment.pk).update(
        deadline=timezone.now() - dt.timedelta(seconds=1), updated_at=timezone.now() - dt.timedelta(hours=1)
    )
    report = payments_reconcile()
    assert report.actions["failed_past_deadline"] == 1
    assert Payment.objects.get(pk=payment.pk).status == Payment.Status.FAILED


def test_a_lost_authorization_answer_is_adopted_before_the_deadline(providers, settings, eager_tasks):
    settings.PAYMENT_READ_TIMEOUT = 0.3
    payment, _ = payment_create(charge_request())
    providers.set_knobs("cardinal", timeout_rate=1.0, timeout_seconds=0.8, operations=["authorize", "status"])
    with pytest.raises(ProviderUnavailable):
        payment_advance(payment.pk)
    providers.set_knobs("cardinal", timeout_rate=0.0)
    assert payment_reconcile_one(payment.pk) == "adopted_authorized"
    payment.refresh_from_db()
    assert payment.status in (Payment.Status.AUTHORIZED, Payment.Status.CAPTURED)


def test_bad_usage_of_the_command_exits_2():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):  # from the command line: one line, exit 2 (contracts.cli)
        call_command("payments", "reconcile", "--since", "yesterday-ish")
