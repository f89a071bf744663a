"""`python -m extracted.order_service sagas list|show|retry|compensate` on real sagas."""

from __future__ import annotations

import json
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone

from contracts import cli
from extracted.order_service.models import Saga
from extracted.order_service.saga import engine

pytestmark = pytest.mark.django_db


def sagas(*args: str) -> dict:
    out = StringIO()
    call_command("sagas", *args, "--json", stdout=out)
    return json.loads(out.getvalue())


def started(order_factory) -> Saga:
    with transaction.atomic():
        return engine.saga_start(order=order_factory(), context={"card": {}})


def test_list_filters_by_state_and_shows_stuck_sagas(order_factory):
    running, late = started(order_factory), started(order_factory)
    Saga.objects.filter(pk=late.pk).update(deadline=timezone.now() - timedelta(seconds=1))
    assert {row["id"] for row in sagas("list", "--state", "running")["sagas"]} == {
        str(running.pk),
        str(late.pk),
    }
    assert [row["id"] for row in sagas("list", "--stuck")["sagas"]] == [str(late.pk)]


def test_show_prints_every_transition_with_its_trace_id(order_factory):
    saga = started(order_factory)
    shown = sagas("show", saga.order.number)
    assert shown["id"] == str(saga.pk)
    assert [t["to"] for t in shown["transitions"]] == ["create_order", "reserve_stock"]
    assert {t["trace_id"] for t in shown["transitions"]} == {saga.trace_id}
    text = StringIO()
    call_command("sagas", "show", str(saga.pk), stdout=text)
    assert "sending reserve_stock" in text.getvalue()


def test_retry_resends_the_step_and_compensate_undoes_the_saga(order_factory):
    saga = started(order_factory)
    assert sagas("retry", str(saga.pk))["attempt"] == 2
    compensated = sagas("compensate", str(saga.pk))
    assert (compensated["state"], compensated["step"]) == ("compensating", "release_stock")
    with pytest.raises(cli.CheckFailed, match="no saga"):
        sagas("show", "TS-NOPE")
