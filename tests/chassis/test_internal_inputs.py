"""The service-neutral verify inputs (chassis.internal_inputs) behind a chassis internal view."""

import json

import pytest

from chassis.internal_inputs import MAX_DIGEST_SPAN, MAX_ID, MAX_VERIFY_RANGES
from chassis.settings import DEV_INTERNAL_API_TOKEN


def post(client, path: str, body) -> tuple[int, dict]:
    response = client.post(
        f"/internal/verify/{path}",
        data=json.dumps(body),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {DEV_INTERNAL_API_TOKEN}",
    )
    return response.status_code, response.json()


def test_checksum_ranges_come_back_as_lo_hi_pairs(client):
    assert post(client, "checksums", {"ranges": [[0, 10], [10, MAX_ID]]}) == (
        200,
        {"ranges": [[0, 10], [10, MAX_ID]]},
    )


def test_digests_take_a_span_of_at_most_the_drill_down_limit(client):
    assert post(client, "digests", {"lo": 5, "hi": 5 + MAX_DIGEST_SPAN}) == (
        200,
        {"lo": 5, "hi": 5 + MAX_DIGEST_SPAN},
    )


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("checksums", {"ranges": [[0, 10]], "rnages": []}, "rnages"),
        ("checksums", {"ranges": [[10, 0]]}, "ranges"),
        ("checksums", {"ranges": [[0, 1, 2]]}, "ranges"),
        ("checksums", {"ranges": [[-1, 1]]}, "ranges"),
        ("checksums", {"ranges": [[0, MAX_ID + 1]]}, "ranges"),
        ("checksums", {"ranges": [[0, 1]] * (MAX_VERIFY_RANGES + 1)}, "ranges"),
        ("digests", {"lo": 1, "hi": 2, "extra": True}, "extra"),
        ("digests", {"lo": 9, "hi": 2}, "lo"),
        ("digests", {"lo": 0, "hi": MAX_DIGEST_SPAN + 1}, "hi"),
        ("digests", {"lo": "a", "hi": 2}, "lo"),
    ],
)
def test_bad_verify_bodies_are_a_400_naming_the_field(client, path, body, field):
    status, answer = post(client, path, body)
    assert (status, answer["code"]) == (400, "validation_error")
    assert field in answer["extra"]["fields"]


def test_a_body_that_is_not_a_json_object_is_a_400(client):
    status, answer = post(client, "checksums", [[0, 1]])
    assert (status, answer["code"]) == (400, "validation_error")


def test_a_body_over_the_views_limit_is_a_413_before_validation(client):
    status, answer = post(client, "digests", {"lo": 1, "hi": 2, "padding": "x" * 100})
    assert (status, answer["code"]) == (413, "payload_too_large")
    assert answer["extra"]["limit_bytes"] == 64
