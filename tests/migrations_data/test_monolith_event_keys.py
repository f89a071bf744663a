"""`manage.py events keys rotate|list`: the monolith rotates the keys its outbox relay signs critical events
with, as the services do (`python -m extracted.<service> events keys ...`): the new key signs at once, the
old one keeps verifying for the overlap, and the monolith's /.well-known/event-keys.json serves both."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command

from chassis.event_keys import EventSigner
from contracts.event_trust import EVENT_KEYS_PATH
from contracts.events import Envelope
from kernel.crypto import es256_verify, public_key_from_jwk

pytestmark = pytest.mark.django_db


def refund_event() -> Envelope:
    return Envelope.new("refund.completed", {"refund_id": 1, "amount": "5.00"}, source="monolith")


def test_the_monolith_rotates_its_event_keys_with_an_overlap(client, capsys):
    first = EventSigner()(refund_event())  # made on first use
    call_command("events", "keys", "rotate", "--overlap", "600", "--json")
    rotation = json.loads(capsys.readouterr().out)
    assert rotation["retiring_kid"] == first.kid
    call_command("events", "keys", "list", "--json")
    listed = {row["kid"]: row["state"] for row in json.loads(capsys.readouterr().out)}
    assert listed == {rotation["new_kid"]: "active", first.kid: "retiring"}

    served = client.get(EVENT_KEYS_PATH)
    assert served.status_code == 200
    assert {key["kid"] for key in served.json()["keys"]} == {rotation["new_kid"], first.kid}
    after = EventSigner()(refund_event())  # a relay started after the rotation signs with the new key
    assert after.kid == rotation["new_kid"]
    keys = {key["kid"]: key for key in served.json()["keys"]}
    for envelope in (first, after):  # both verify against what the monolith publishes
        key = public_key_from_jwk(keys[envelope.kid])
        assert es256_verify(key, envelope.signing_input(), envelope.signature)
