"""What `JSON errors always` means, for the monolith's and every service's test session: the standard
error body `{"code", "message", "extra"}` as application/json, whatever DEBUG is."""

from __future__ import annotations


def assert_json_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].split(";")[0] == "application/json", response["Content-Type"]
    body = response.json()
    assert set(body) == {"code", "message", "extra"}, body
    assert body["code"] == code, body
    return body
