import json
import logging

import pytest
from pythonjsonlogger.json import JsonFormatter

from chassis.logging import RequestIdFilter

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def test_the_gateway_request_id_and_trace_id_reach_the_view_and_the_id_is_echoed(client):
    response = client.get("/widgets/1", HTTP_X_REQUEST_ID="probe-42", HTTP_TRACEPARENT=TRACEPARENT)
    assert response.status_code == 200
    assert response["X-Request-ID"] == "probe-42"
    assert response.json()["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736"


@pytest.mark.parametrize("traceparent", [None, "00-zz-00f067aa0ba902b7-01", "ff-" + TRACEPARENT[3:]])
def test_an_absent_or_invalid_trace_context_starts_a_new_trace_and_request_id(client, traceparent):
    headers = {"HTTP_X_REQUEST_ID": "bad id!"}
    if traceparent:
        headers["HTTP_TRACEPARENT"] = traceparent
    first = client.get("/widgets/1", **headers)
    second = client.get("/widgets/1", **headers)
    assert first["X-Request-ID"] != "bad id!"
    assert first["X-Request-ID"] != second["X-Request-ID"]
    trace_ids = {first.json()["trace_id"], second.json()["trace_id"]}
    assert len(trace_ids) == 2
    assert all(len(t) == 32 and t != "4bf92f3577b34da6a3ce929d0e0e4736" for t in trace_ids)


def test_log_lines_written_inside_a_request_carry_its_request_id_and_trace_id(client, caplog, settings):
    caplog.set_level(logging.INFO, logger="chassis_service")
    client.get("/widgets/1", HTTP_X_REQUEST_ID="probe-43", HTTP_TRACEPARENT=TRACEPARENT)
    fmt = settings.LOGGING["formatters"]["json"]
    formatter = JsonFormatter(
        fmt["fmt"], rename_fields=fmt["rename_fields"], static_fields=fmt["static_fields"]
    )
    [record] = [r for r in caplog.records if r.name == "chassis_service"]
    RequestIdFilter().filter(record)
    line = json.loads(formatter.format(record))
    assert line["request_id"] == "probe-43"
    assert line["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert line["service"] == "chassis_service"
    assert line["widget_id"] == 1


def test_a_body_above_the_limit_is_refused_with_413_before_the_view(client, settings):
    settings.MAX_REQUEST_BODY_BYTES = 64
    response = client.post("/echo", data=json.dumps({"name": "x" * 100}), content_type="application/json")
    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"
    assert response.json()["extra"]["limit_bytes"] == 64


def test_application_errors_and_bad_json_leave_as_code_message_extra(client):
    refused = client.post("/echo", data="[1]", content_type="application/json")
    malformed = client.post("/echo", data="{", content_type="application/json")
    missing = client.get("/widgets/7")
    assert (refused.status_code, refused.json()) == (
        400,
        {"code": "name_required", "message": "name is required", "extra": {"field": "name"}},
    )
    assert (malformed.status_code, malformed.json()["code"]) == (400, "malformed_request")
    assert (missing.status_code, missing.json()["code"]) == (404, "widget_not_found")


def test_a_head_request_gets_the_headers_of_get_and_no_body(client):
    response = client.head("/healthz")
    assert response.status_code == 200
    assert response.content == b""
    assert int(response["Content-Length"]) > 0
