"""The sandbox's push and SMS providers: API key, idempotency keys, address checks, fault knobs and signed
delivery receipts to a real HTTP receiver."""

import json
import time

import pytest

from sandbox.messaging import DEFAULT_API_KEY, DEFAULT_RECEIPT_SECRET
from sandbox.signing import SIGNATURE_HEADER, signature

AUTH = {"Authorization": f"Bearer {DEFAULT_API_KEY}"}


@pytest.fixture
def http(gateways):
    for name in ("push", "sms"):
        gateways.http.post(f"/_sandbox/messaging/{name}/reset")
    return gateways.http


def send(http, provider: str, to: str, key: str = "key-00000001", text: str = "hello"):
    return http.post(
        f"/{provider}/messages",
        json={"to": to, "text": text, "title": ""},
        headers={**AUTH, "Idempotency-Key": key},
    )


def test_the_same_idempotency_key_is_one_message(http):
    first = send(http, "sms", "+5511999990000")
    again = send(http, "sms", "+5511999990000")
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json["id"] == again.json["id"]
    assert len(http.get("/_sandbox/messaging/sms/messages").json["messages"]) == 1


@pytest.mark.parametrize(
    ("provider", "to"), [("sms", "11999990000"), ("sms", "+0123"), ("push", "token"), ("push", "user:0")]
)
def test_an_address_of_the_wrong_kind_is_an_invalid_recipient(http, provider, to):
    answer = send(http, provider, to)
    assert answer.status_code == 400
    assert answer.json["code"] == "invalid_recipient"


def test_a_wrong_key_or_a_missing_idempotency_key_is_refused(http):
    bad_key = http.post(
        "/push/messages", json={"to": "user:1", "text": "x"}, headers={"Authorization": "Bearer no"}
    )
    assert bad_key.status_code == 401
    no_key = http.post("/push/messages", json={"to": "user:1", "text": "x"}, headers=AUTH)
    assert no_key.status_code == 400
    assert no_key.json["code"] == "idempotency_key_required"


def test_error_rate_fails_without_sending_and_bad_knobs_are_named(http):
    assert http.put("/_sandbox/messaging/push", json={"error_rate": 1.0}).status_code == 200
    assert send(http, "push", "user:1").status_code == 503
    assert http.get("/_sandbox/messaging/push/messages").json["messages"] == []
    refused = http.put("/_sandbox/messaging/push", json={"drop_rate": 2, "volume": 1})
    assert refused.status_code == 400
    assert set(refused.json["fields"]) == {"drop_rate", "volume"}


def test_receipts_are_signed_and_bounces_and_drops_follow_the_knobs(http, receiver):
    http.put(
        "/_sandbox/messaging/sms",
        json={"webhook_url": receiver.url, "undeliverable": ["+5511900000000"]},
    )
    send(http, "sms", "+5511999990000", key="key-delivered")
    send(http, "sms", "+5511900000000", key="key-bounced")
    http.put("/_sandbox/messaging/sms", json={"drop_rate": 1.0})
    send(http, "sms", "+5511977770000", key="key-dropped")
    deadline = time.monotonic() + 10
    while len(receiver.requests) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    statuses = {}
    for delivery in receiver.requests:
        header = delivery["headers"][SIGNATURE_HEADER]
        timestamp = int(header.split(",")[0].removeprefix("t="))
        assert header == signature(DEFAULT_RECEIPT_SECRET, delivery["body"], timestamp)
        receipt = json.loads(delivery["body"])
        statuses[receipt["idempotency_key"]] = receipt["status"]
    assert statuses == {"key-delivered": "delivered", "key-bounced": "bounced"}
    [dropped] = http.get("/_sandbox/messaging/sms/messages", query_string={"to": "+5511977770000"}).json[
        "messages"
    ]
    assert dropped["status"] == "accepted"  # accepted, never delivered: no receipt is ever sent for it
