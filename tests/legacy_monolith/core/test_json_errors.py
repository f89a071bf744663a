"""The monolith answers 404, 405 and 500 with the standard JSON error body whatever DEBUG is: with DEBUG
on, Django's HTML 404 page listed the monolith's URLs and its internal address, even through the gateway."""

import pytest

from tests.json_errors import assert_json_error

pytestmark = pytest.mark.django_db


@pytest.fixture(params=[True, False], ids=["debug", "no-debug"])
def debug(request, settings):
    settings.DEBUG = request.param
    return request.param


def test_an_unknown_path_is_a_json_404_listing_no_url(client, debug):
    body = assert_json_error(client.get("/api/v1/nope", HTTP_HOST="monolith.internal:8000"), 404, "not_found")

    assert body["message"] == "No route for /api/v1/nope"
    assert "api/v1/catalog" not in str(body)


def test_a_method_the_api_does_not_take_is_a_json_405(client, debug):
    response = client.get("/api/v1/accounts/login")

    assert_json_error(response, 405, "method_not_allowed")


def test_a_bug_is_a_json_500_without_the_traceback(client, debug, settings):
    settings.ROOT_URLCONF = "tests.legacy_monolith.core.crash_urls"
    client.raise_request_exception = False

    body = assert_json_error(client.get("/crash"), 500, "internal_error")

    assert "a bug in the monolith" not in str(body)
