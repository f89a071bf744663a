"""contracts/recording: the recording request's strict format and the redaction both sides apply (JSON keys
at any depth, form fields, query parameters; everything else byte for byte as it was)."""

import json

import pytest

from contracts.recording import REDACTED, BadRecordingRequest, RecordingRequest, Redaction

RULES = Redaction(
    headers=frozenset({"X-Csrftoken"}), fields=frozenset({"Password", "card"}), query=frozenset({"token"})
)


@pytest.mark.parametrize(
    ("body", "content_type", "expected"),
    [
        (
            {"user": {"password": "x", "name": "ada"}, "items": [{"card": {"number": "4242"}}]},
            "application/json; charset=utf-8",
            {"user": {"password": REDACTED, "name": "ada"}, "items": [{"card": REDACTED}]},
        ),
        ({"PASSWORD": 1}, "application/problem+json", {"PASSWORD": REDACTED}),
    ],
)
def test_json_bodies_lose_the_named_keys_at_any_depth(body, content_type, expected):
    redacted, changed = RULES.body(json.dumps(body).encode(), content_type)
    assert changed
    assert json.loads(redacted) == expected


def test_bodies_without_a_named_field_keep_their_exact_bytes():
    raw = b'{ "name" : "ada",   "n": 1.50 }'
    assert RULES.body(raw, "application/json") == (raw, False)
    assert RULES.body(b"password=x", "text/plain") == (b"password=x", False)
    assert RULES.body(b"{not json", "application/json") == (b"{not json", False)


def test_form_bodies_and_query_strings_lose_the_named_values_only():
    assert RULES.body(b"username=ada&password=hunter2&x=%20", "application/x-www-form-urlencoded") == (
        b"username=ada&password=%3Credacted%3E&x=%20",
        True,
    )
    assert (
        RULES.query_string("q=a+b&token=t0k&page=2&token")
        == "q=a+b&token=%3Credacted%3E&page=2&token=%3Credacted%3E"
    )
    assert RULES.query_string("q=a%2Bb") == "q=a%2Bb"


def test_credentials_are_always_redacted_and_the_named_headers_too():
    fields = [("Authorization", "Bearer x"), ("X-CSRFToken", "c"), ("Accept", "*/*"), ("cookie", "s=1")]
    assert RULES.header_fields(fields) == [
        ("Authorization", REDACTED),
        ("X-CSRFToken", REDACTED),
        ("Accept", "*/*"),
        ("cookie", REDACTED),
    ]
    assert Redaction.from_dict(RULES.to_dict()) == RULES


def test_a_recording_request_round_trips_and_refuses_what_is_not_one(tmp_path):
    request = RecordingRequest("abc-1", ("catalog.read",), 10.0, 5, str(tmp_path), 1.0)
    assert RecordingRequest.from_json(request.to_json()) == request
    assert [request.covers(r) for r in ("catalog.read", "auth.login", None)] == [True, False, False]
    assert request.part_path("w1") == tmp_path / "abc-1.w1.flows"
    for text, problem in [
        ("[]", "not a JSON object"),
        ('{"id": "x"}', "missing or bad field"),
        (request.to_json().replace('"abc-1"', '"../etc"'), "letters, digits"),
        (request.to_json().replace('"max_flows": 5', '"max_flows": 0'), "at least 1"),
    ]:
        with pytest.raises(BadRecordingRequest, match=problem):
            RecordingRequest.from_json(text)
