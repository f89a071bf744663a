"""The Recorder addon in mitmproxy's test context: a recording request switches recording on for its routes
only, bounded by count and time; the flows are mitmproxy's own format, hold no credential nor any field the
redaction rules name, and carry what the gateway knew; a bad rules file stops the gateway with its line."""

from __future__ import annotations

import json
import time
import uuid

import pytest
from mitmproxy import exceptions
from mitmproxy import io as flow_io
from mitmproxy.test import tflow

from contracts.recording import METADATA_KEY, REDACTED, RecordedFacts, RecordingRequest
from strangler_proxy.forwarding import ForwardResult
from strangler_proxy.recorder import DEFAULT_REDACTION_FILE, Recorder, load_redaction
from strangler_proxy.routes import Decision, Upstream
from strangler_proxy.routing import DECISION_KEY, FORWARD_KEY
from tests.strangler_proxy.conftest import addon_context

LEGACY = Upstream("legacy", "http", "127.0.0.1", 8000)
PRODUCT = Upstream("product", "http", "127.0.0.1", 8101)


def answered_flow(route: str, path: str = "/api/v1/catalog/products/1", **request_fields):
    flow = tflow.tflow(resp=True)
    flow.request.path = path
    flow.request.headers["Authorization"] = "Token secret-token-1"
    flow.request.headers["Cookie"] = "sessionid=s3cr3t"
    flow.request.headers["X-Strangler-Identity"] = "signed-identity"
    for name, value in request_fields.items():
        setattr(flow.request, name, value)
    flow.response.headers["Content-Type"] = "application/json"
    flow.response.headers["Set-Cookie"] = "sessionid=s3cr3t; HttpOnly"
    flow.response.content = json.dumps({"id": 1, "price": "9.99", "token": "tok-123"}).encode()
    flow.metadata[DECISION_KEY] = Decision(
        route, "route", f"route.{route}", False, LEGACY, None, None, 5.0, 10, True
    )
    flow.metadata[FORWARD_KEY] = ForwardResult("legacy", 200, 12.5, False, "closed", None)
    flow.metadata["unserialisable"] = object()  # other addons' state never reaches the file
    return flow


def write_request(path, tmp_path, **fields) -> RecordingRequest:
    request = RecordingRequest(
        id=fields.pop("id", uuid.uuid4().hex[:12]),
        routes=tuple(fields.pop("routes", ("catalog.read",))),
        until=fields.pop("until", time.time() + 60),
        max_flows=fields.pop("max_flows", 100),
        directory=str(tmp_path / "parts"),
        started_at=time.time(),
        **fields,
    )
    path.write_text(request.to_json())
    return request


def read_flows(path) -> list:
    with open(path, "rb") as handle:
        return list(flow_io.FlowReader(handle).stream())


@pytest.fixture
def recorder(tmp_path):
    addon = Recorder()
    control = tmp_path / "record.json"
    with addon_context(addon, strangler_record_control=str(control)):
        yield addon, control


def test_without_a_recording_request_nothing_is_written(recorder, tmp_path):
    addon, _control = recorder
    addon.response(answered_flow("catalog.read"))
    assert not (tmp_path / "parts").exists()


def test_a_recording_request_records_its_routes_only_in_mitmproxys_format(recorder, tmp_path):
    addon, control = recorder
    request = write_request(control, tmp_path, routes=("catalog.read",))
    addon.response(answered_flow("catalog.read", "/api/v1/catalog/products/1?page=2"))
    addon.response(answered_flow("auth.login", "/api/v1/accounts/login"))
    addon.response(answered_flow("catalog.read", "/api/v1/catalog/products/2"))
    addon.done()

    (part,) = request.part_paths()
    flows = read_flows(part)
    assert [f.request.path for f in flows] == [
        "/api/v1/catalog/products/1?page=2",
        "/api/v1/catalog/products/2",
    ]
    facts = RecordedFacts.from_dict(flows[0].metadata[METADATA_KEY])
    assert (facts.recording, facts.route, facts.upstream, facts.upstream_ms) == (
        request.id,
        "catalog.read",
        "legacy",
        12.5,
    )
    assert set(flows[0].metadata) == {METADATA_KEY}
    assert flows[0].client_conn.peername == ("0.0.0.0", 0)  # no client address in a recording


def test_credentials_and_the_named_fields_are_redacted_in_requests_and_answers(recorder, tmp_path):
    addon, control = recorder
    request = write_request(control, tmp_path)
    flow = answered_flow(
        "catalog.read",
        "/api/v1/catalog/products?q=x&access_token=abc123&page=1",
        method="POST",
    )
    flow.request.headers["Content-Type"] = "application/json"
    flow.request.content = json.dumps(
        {"username": "ada", "password": "hunter2", "payment": {"card": {"number": "4242424242424242"}}}
    ).encode()
    addon.response(flow)
    addon.done()

    (part,) = request.part_paths()
    raw = part.read_bytes()
    for secret in (
        b"secret-token-1",
        b"s3cr3t",
        b"signed-identity",
        b"hunter2",
        b"4242",
        b"tok-123",
        b"abc123",
    ):
        assert secret not in raw
    (recorded,) = read_flows(part)
    assert recorded.request.headers["Authorization"] == REDACTED
    assert recorded.request.headers["Cookie"] == REDACTED
    assert recorded.response.headers["Set-Cookie"] == REDACTED
    assert recorded.request.path == "/api/v1/catalog/products?q=x&access_token=%3Credacted%3E&page=1"
    assert json.loads(recorded.request.content) == {
        "username": "ada",
        "password": REDACTED,
        "payment": {"card": REDACTED},
    }
    assert json.loads(recorded.response.content) == {"id": 1, "price": "9.99", "token": REDACTED}
    assert flow.request.headers["Authorization"] == "Token secret-token-1"  # the live flow is untouched
    assert b"tok-123" in flow.response.content


def test_a_recording_stops_at_its_count_and_at_its_time(recorder, tmp_path):
    addon, control = recorder
    counted = write_request(control, tmp_path, max_flows=2)
    for _ in range(5):
        addon.response(answered_flow("catalog.read"))
    assert len(read_flows(counted.part_paths()[0])) == 2

    time.sleep(0.3)  # the next poll sees the new request
    timed = write_request(control, tmp_path, until=time.time() + 0.5)
    addon.response(answered_flow("catalog.read"))
    time.sleep(0.6)
    addon.response(answered_flow("catalog.read"))
    assert len(read_flows(timed.part_paths()[0])) == 1


def test_a_stopped_request_ends_the_recording_and_closes_the_part(recorder, tmp_path):
    addon, control = recorder
    request = write_request(control, tmp_path)
    addon.response(answered_flow("catalog.read"))
    time.sleep(0.3)
    control.write_text(
        RecordingRequest(**{**request.__dict__, "stopped": True}).to_json()  # same id, stopped
    )
    addon.response(answered_flow("catalog.read"))
    assert len(read_flows(request.part_paths()[0])) == 1


def test_the_shipped_redaction_rules_name_the_checkout_card_and_passwords():
    rules = load_redaction(DEFAULT_REDACTION_FILE)
    assert {"password", "card", "token", "refresh_token"} <= rules.fields
    assert "access_token" in rules.query


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("fields: [password]\nsecrets: [x]\n", ":2: unknown key 'secrets'"),
        ("fields: password\n", ":1: fields must be a list of names"),
        ("query:\n  - ''\n", ":1: query must be a list of names"),
        ("fields: [a\n", ": not YAML"),
    ],
)
def test_a_bad_redaction_file_stops_the_gateway_naming_its_line(tmp_path, text, problem):
    rules = tmp_path / "redaction.yaml"
    rules.write_text(text)
    with (
        pytest.raises(exceptions.OptionsError, match=problem),
        addon_context(Recorder(), strangler_redaction_file=str(rules)),
    ):
        pass
