"""Field encryption: values sealed at rest with their key id, rotation, resumable re-encryption."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command
from django.db import connection

from contracts import cli
from extracted.payment_service import keys
from extracted.payment_service.fields import Sealed
from extracted.payment_service.models import Card, Payment
from extracted.payment_service.services.charges import payment_advance, payment_create

from .conftest import charge_request

pytestmark = pytest.mark.django_db


def _raw(table: str, column: str, pk) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table} WHERE id = %s", [pk])
        return cursor.fetchone()[0]


def test_references_tokens_and_billing_are_sealed_at_rest_under_the_active_key(providers):
    payment, _ = payment_create(
        charge_request(
            billing_name="Ada Lovelace", billing_address={"line1": "10 rue de Rivoli", "city": "Paris"}
        )
    )
    payment_advance(payment.pk)
    payment.refresh_from_db()
    kid = keys.active_kid()
    for column in ("gateway_ref", "card_token", "billing_name", "billing_address"):
        stored = _raw("payment_service_payment", column, payment.pk)
        assert stored.startswith(f"{kid}:aesgcm1:"), column
        assert "Lovelace" not in stored
        assert "Rivoli" not in stored
        assert "ch_" not in stored
        assert "tok_" not in stored
    assert payment.gateway_ref.startswith("ch_")
    assert payment.billing_address["city"] == "Paris"


def test_a_value_copied_into_another_column_does_not_open():
    card = Card.objects.create(
        id="card_x",
        gateway="cardinal",
        token="tok_1",
        fingerprint="f",
        brand="visa",
        bin="424242",
        last4="4242",
        country="FR",
        holder="Ada",
    )
    sealed_token = _raw("payment_service_card", "token", card.pk)
    Card.objects.filter(pk=card.pk).update(holder=Sealed(sealed_token))
    with pytest.raises(keys.DataKeyError):
        Card.objects.get(pk=card.pk)


def test_rotation_keeps_old_values_readable_and_reencrypt_moves_them(providers):
    first, _ = payment_create(charge_request())
    old_kid = keys.active_kid()
    new_kid = keys.key_rotate(actor="test")
    assert new_kid != old_kid
    second, _ = payment_create(charge_request())
    assert _raw("payment_service_payment", "card_token", first.pk).startswith(f"{old_kid}:")
    assert _raw("payment_service_payment", "card_token", second.pk).startswith(f"{new_kid}:")
    assert Payment.objects.get(pk=first.pk).card_token.startswith("tok_")
    result = keys.keys_reencrypt(batch_size=1)
    assert result.finished
    assert result.moved >= 2
    assert _raw("payment_service_payment", "card_token", first.pk).startswith(f"{new_kid}:")
    listed = {info.kid: info for info in keys.key_list()}
    assert listed[old_kid].values == 0
    assert listed[new_kid].active


def test_reencrypt_stopped_by_its_limit_resumes_where_it_stopped(providers):
    for _ in range(4):
        payment_create(charge_request())
    keys.key_rotate()
    stopped = keys.keys_reencrypt(batch_size=1, limit=2)
    assert not stopped.finished
    assert stopped.moved == 2
    rest = keys.keys_reencrypt(batch_size=2)
    assert rest.finished
    old = [info for info in keys.key_list() if not info.active]
    assert all(info.values == 0 for info in old)


def test_the_keys_command_rotates_lists_and_reencrypts(providers, capsys):
    payment_create(charge_request())
    call_command("keys", "rotate", "--json")
    active = json.loads(capsys.readouterr().out)["active"]
    with pytest.raises(cli.CheckFailed):  # stopped by its limit: exit 1
        call_command("keys", "reencrypt", "--limit", "1", "--batch-size", "1", "--json")
    capsys.readouterr()
    call_command("keys", "reencrypt", "--json")
    assert json.loads(capsys.readouterr().out)["finished"] is True
    call_command("keys", "list", "--json")
    listed = json.loads(capsys.readouterr().out)
    assert [k["kid"] for k in listed if k["active"]] == [active]
    assert all(k["values"] == 0 for k in listed if not k["active"])
