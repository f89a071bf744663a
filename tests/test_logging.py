import json
import logging

import pytest

from legacy_monolith.core.logging import RequestIdFilter

pytestmark = pytest.mark.django_db


@pytest.fixture
def json_log_lines(caplog):
    """Records as the console handler formats them (JSON with the request id filter)."""
    from django.conf import settings
    from pythonjsonlogger.json import JsonFormatter

    fmt = settings.LOGGING["formatters"]["json"]
    formatter = JsonFormatter(fmt["fmt"], rename_fields=fmt["rename_fields"])
    id_filter = RequestIdFilter()

    def lines():
        out = []
        for record in caplog.records:
            id_filter.filter(record)
            out.append(json.loads(formatter.format(record)))
        return out

    return lines


def test_a_4xx_response_is_logged_as_json_with_its_request_id(api_client, json_log_lines, caplog):
    caplog.set_level(logging.WARNING, logger="django.request")
    api_client.get("/api/v1/nowhere", HTTP_X_REQUEST_ID="probe-42")
    lines = [line for line in json_log_lines() if line["logger"] == "django.request"]
    assert lines
    assert lines[-1]["request_id"] == "probe-42"
    assert lines[-1]["level"] == "WARNING"
