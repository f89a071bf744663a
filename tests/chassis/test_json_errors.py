"""Every service answers 404, 405 and 500 with the standard JSON error body, with DEBUG on (Django's HTML
debug pages would otherwise list the URLs or the traceback) and off (the chassis' handler views)."""

import logging

import pytest

from tests.json_errors import assert_json_error

pytestmark = pytest.mark.django_db


@pytest.fixture(params=[True, False], ids=["debug", "no-debug"])
def debug(request, settings):
    settings.DEBUG = request.param
    return request.param


def test_an_unknown_path_is_a_json_404_that_names_no_other_route(client, debug):
    body = assert_json_error(client.get("/no/such/path"), 404, "not_found")

    assert body["message"] == "No route for /no/such/path"
    assert "widgets" not in str(body)


def test_a_method_a_plain_view_does_not_take_is_a_json_405_with_allow(client, debug):
    response = client.post("/plain-get-only")

    body = assert_json_error(response, 405, "method_not_allowed")
    assert response["Allow"] == "GET"
    assert body["extra"] == {"allowed": ["GET"]}


def test_a_bug_in_a_plain_view_is_a_json_500_and_its_traceback_is_logged_once(client, debug, caplog):
    client.raise_request_exception = False
    logger = logging.getLogger("django.request")  # the chassis' JSON logs do not propagate to caplog
    logger.addHandler(caplog.handler)
    try:
        body = assert_json_error(client.get("/crash"), 500, "internal_error")
    finally:
        logger.removeHandler(caplog.handler)

    assert "a bug in a plain view" not in str(body)
    logged = [r for r in caplog.records if r.getMessage() == "Internal Server Error: /crash"]
    assert len(logged) == 1
    assert "a bug in a plain view" in str(logged[0].exc_info[1])


def test_json_answers_pass_through_unchanged(client, debug):
    response = client.get("/widgets/2")

    assert_json_error(response, 404, "widget_not_found")
