"""The shadow pair format (shadow/pairs.py): what a pair keeps, what it never carries, and the strict reader
the comparator relies on to dead-letter anything malformed."""

from __future__ import annotations

import hashlib

import orjson
import pytest

from shadow.pairs import REDACTED, Exchange, MalformedPair, ShadowPair


def make_pair(**overrides) -> ShadowPair:
    fields = {
        "route": "catalog.read",
        "trace_id": "0af7651916cd43dd8448eb211c80319c",
        "user": "42",
        "method": "GET",
        "path": "/api/v1/catalog/products/1",
        "query": "lang=en",
        "header_fields": [
            ("Accept", "application/json"),
            ("Authorization", "Token s3cr3t-token"),
            ("Cookie", "s=1"),
        ],
        "body": b"",
        "primary": Exchange.answered(200, [("Content-Type", "application/json")], b'{"id": 1}', 3.5),
        "candidate": Exchange.answered(200, [("Content-Type", "application/json")], b'{"id": 2}', 4.25),
    }
    fields.update(overrides)
    return ShadowPair.build(**fields)


def test_a_pair_survives_the_trip_through_json_unchanged():
    pair = make_pair(
        secondary=Exchange.answered(200, [("Content-Type", "application/json")], b'{"id": 1}', 2.0),
        candidate2=Exchange.failed("timeout", 5000.0),
    )

    assert ShadowPair.from_json(pair.to_json()) == pair


def test_credentials_are_redacted_and_volatile_answer_headers_are_left_out():
    pair = make_pair(
        primary=Exchange.answered(
            200,
            [("Content-Type", "application/json"), ("Date", "today"), ("Set-Cookie", "s=2"), ("Server", "x")],
            b"{}",
            1.0,
        )
    )

    assert pair.request_headers == {
        "accept": "application/json",
        "authorization": REDACTED,
        "cookie": REDACTED,
    }
    assert pair.primary.headers == {"content-type": "application/json", "set-cookie": REDACTED}
    assert b"s3cr3t" not in pair.to_json()


def test_a_body_over_the_limit_is_cut_but_its_hash_and_size_describe_the_whole_body():
    body = b'{"blob": "' + b"x" * 5000 + b'"}'

    exchange = Exchange.answered(200, [("Content-Type", "application/json")], body, 1.0, limit=1024)

    assert len(exchange.body) == 1024
    assert exchange.body_truncated is True
    assert exchange.body_size == len(body)
    assert exchange.body_sha256 == hashlib.sha256(body).hexdigest()
    with pytest.raises(ValueError, match="truncated"):
        exchange.json()


def test_a_binary_body_travels_as_base64_and_comes_back_byte_for_byte():
    body = bytes(range(256))
    pair = make_pair(body=body, primary=Exchange.answered(200, [], body, 1.0))

    document = orjson.loads(pair.to_json())
    back = ShadowPair.from_json(pair.to_json())

    assert document["request_body_encoding"] == "base64"
    assert back.request_body == body
    assert back.primary.body == body


def _mutated(change) -> bytes:
    document = orjson.loads(make_pair().to_json())
    change(document)
    return orjson.dumps(document)


MALFORMED = [
    ("not JSON", b"{nope", "not JSON"),
    ("a list", b"[]", "must be an object"),
    ("version 2", _mutated(lambda d: d.update(version=2)), "version must be 1"),
    ("version true", _mutated(lambda d: d.update(version=True)), "version must be 1"),
    ("missing route", _mutated(lambda d: d.pop("route")), "missing route"),
    ("unknown key", _mutated(lambda d: d.update(extra=1)), "unknown extra"),
    (
        "status as text",
        _mutated(lambda d: d["primary"].update(status="200")),
        "pair.primary.status must be int",
    ),
    ("status a bool", _mutated(lambda d: d["candidate"].update(status=True)), "status must be int"),
    ("status 1000", _mutated(lambda d: d["candidate"].update(status=1000)), "out of range"),
    ("bad digest", _mutated(lambda d: d["primary"].update(body_sha256="abc")), "sha256"),
    ("headers a list", _mutated(lambda d: d.update(request_headers=[])), "object of strings"),
    ("bad base64", _mutated(lambda d: d["primary"].update(body="%%", body_encoding="base64")), "base64"),
    ("unknown encoding", _mutated(lambda d: d["primary"].update(body_encoding="gzip")), "encoding"),
    ("naive timestamp", _mutated(lambda d: d.update(captured_at="2026-01-01T00:00:00")), "time zone"),
    ("relative path", _mutated(lambda d: d.update(path="items")), "start with '/'"),
    ("negative elapsed", _mutated(lambda d: d["primary"].update(elapsed_ms=-1)), "non-negative"),
    ("secondary a string", _mutated(lambda d: d.update(secondary="none")), "must be an object"),
]


@pytest.mark.parametrize(("raw", "words"), [c[1:] for c in MALFORMED], ids=[c[0] for c in MALFORMED])
def test_the_reader_refuses_anything_but_a_complete_pair_of_this_version(raw, words):
    with pytest.raises(MalformedPair, match=words.replace("(", r"\(").replace(")", r"\)")):
        ShadowPair.from_json(raw)
