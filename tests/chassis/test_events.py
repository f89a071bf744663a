import base64
import hashlib
from datetime import UTC, datetime, timedelta, timezone

import orjson
import pytest

from contracts.events import (
    CONTENT_FIELDS,
    Envelope,
    InvalidEnvelope,
    TamperedEnvelope,
    canonical_json,
    content_digest,
)


def valid_doc(**changes) -> dict:
    doc = {
        "id": "9f1c2a1e-5b7d-4c8e-9a0b-1c2d3e4f5a6b",
        "type": "catalog.product.upserted",
        "occurred_at": "2026-11-29T10:00:00.123456Z",
        "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
        "source": "monolith",
        "version": 1,
        "data": {"id": 7, "version": 3},
    }
    doc.update(changes)
    if "digest" not in changes:
        doc["digest"] = content_digest(canonical_json({k: v for k, v in doc.items() if k in CONTENT_FIELDS}))
    return doc


def test_an_envelope_survives_a_json_round_trip_unchanged():
    envelope = Envelope.from_json(orjson.dumps(valid_doc()))
    assert envelope.occurred_at == datetime(2026, 11, 29, 10, 0, 0, 123456, tzinfo=UTC)
    assert orjson.loads(envelope.to_json()) == valid_doc()
    assert Envelope.from_json(envelope.to_json()) == envelope


def test_a_new_envelope_has_a_uuid4_id_a_utc_time_and_a_trace_id():
    first = Envelope.new("stock.adjusted", {"product_id": 1}, source="product_service")
    second = Envelope.new("stock.adjusted", {"product_id": 1}, source="product_service", trace_id="a" * 32)
    assert first.id != second.id
    assert first.occurred_at.utcoffset() == timedelta(0)
    assert len(first.trace_id) == 32
    assert second.trace_id == "a" * 32
    assert Envelope.from_json(first.to_json()) == first


def test_an_envelope_is_immutable():
    envelope = Envelope.from_json(orjson.dumps(valid_doc()))
    with pytest.raises(AttributeError):
        envelope.type = "order.placed"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"not json", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (
            orjson.dumps({k: v for k, v in valid_doc().items() if k != "trace_id"}),
            "missing fields ['trace_id']",
        ),
        (orjson.dumps(valid_doc(extra=1)), "unknown fields ['extra']"),
        (orjson.dumps(valid_doc(id="not-a-uuid")), "id is not a uuid4"),
        (orjson.dumps(valid_doc(id="9f1c2a1e-5b7d-1c8e-9a0b-1c2d3e4f5a6b")), "id is not a uuid4"),
        (orjson.dumps(valid_doc(type="Catalog Product")), "type is not a dotted routing key"),
        (orjson.dumps(valid_doc(type="catalog")), "type is not a dotted routing key"),
        (orjson.dumps(valid_doc(occurred_at="yesterday")), "occurred_at is not ISO 8601"),
        (orjson.dumps(valid_doc(occurred_at="2026-11-29T10:00:00")), "occurred_at is not a UTC timestamp"),
        (
            orjson.dumps(valid_doc(occurred_at="2026-11-29T10:00:00+02:00")),
            "occurred_at is not a UTC timestamp",
        ),
        (orjson.dumps(valid_doc(occurred_at=1700000000)), "occurred_at is not a string"),
        (orjson.dumps(valid_doc(trace_id="0" * 32)), "trace_id is not 32"),
        (orjson.dumps(valid_doc(trace_id="ABC")), "trace_id is not 32"),
        (orjson.dumps(valid_doc(source="Product Service")), "source is not a service name"),
        (orjson.dumps(valid_doc(version=2)), "version is not 1"),
        (orjson.dumps(valid_doc(version=True)), "version is not 1"),
        (orjson.dumps(valid_doc(version="1")), "version is not 1"),
        (orjson.dumps(valid_doc(data=[1])), "data is not an object"),
    ],
)
def test_anything_but_a_valid_envelope_is_refused_with_the_reason(raw, reason):
    with pytest.raises(InvalidEnvelope, match=reason.replace("[", r"\[").replace("]", r"\]")):
        Envelope.from_json(raw)


def test_a_non_utc_time_is_refused_when_building_an_envelope_in_code():
    with pytest.raises(InvalidEnvelope, match="UTC"):
        Envelope(
            id="9f1c2a1e-5b7d-4c8e-9a0b-1c2d3e4f5a6b",
            type="order.placed",
            occurred_at=datetime(2026, 1, 1, tzinfo=timezone(timedelta(hours=1))),
            trace_id="a" * 32,
            source="monolith",
            data={},
        )


def test_every_serialised_envelope_carries_the_sha256_digest_of_its_canonical_content():
    envelope = Envelope.new("stock.adjusted", {"z": 1, "a": {"y": [1.5, "é"], "b": None}}, source="product")
    doc = orjson.loads(envelope.to_json())
    content = orjson.dumps({k: doc[k] for k in CONTENT_FIELDS}, option=orjson.OPT_SORT_KEYS)
    assert doc["digest"] == "sha-256:" + base64.urlsafe_b64encode(
        hashlib.sha256(content).digest()
    ).decode().rstrip("=")


def test_altered_data_no_longer_matches_the_digest():
    doc = valid_doc()
    doc["data"]["version"] = 4
    with pytest.raises(TamperedEnvelope, match="does not match its digest"):
        Envelope.from_json(orjson.dumps(doc))


def test_an_envelope_without_a_digest_parses_marked_for_the_verifier_to_decide():
    doc = valid_doc()
    del doc["digest"]
    envelope = Envelope.from_json(orjson.dumps(doc))  # an older publisher's event, mid rolling deploy
    assert envelope.arrived_without_digest
    assert not Envelope.from_json(orjson.dumps(valid_doc())).arrived_without_digest
    assert orjson.loads(envelope.to_json()) == valid_doc()  # re-serialised with its digest


@pytest.mark.parametrize("digest", [None, "", 7, "sha-256:", "sha-256:AAAA"])
def test_a_present_but_wrong_digest_is_refused(digest):
    with pytest.raises(TamperedEnvelope, match="does not match its digest"):
        Envelope.from_json(orjson.dumps(valid_doc(digest=digest)))


def test_the_digest_covers_the_content_as_sent_whatever_the_key_order_and_time_spelling():
    doc = valid_doc(occurred_at="2026-11-29T10:00:00.123456+00:00")
    reordered = {k: doc[k] for k in reversed(list(doc))}
    envelope = Envelope.from_json(orjson.dumps(reordered))
    assert envelope.digest == doc["digest"]  # the bytes received, not a re-serialisation ("Z")


def test_a_kid_without_a_signature_is_refused():
    with pytest.raises(InvalidEnvelope, match="kid and signature come together"):
        Envelope.from_json(orjson.dumps(valid_doc(kid="k1")))
