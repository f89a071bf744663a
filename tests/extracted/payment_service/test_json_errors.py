"""The Payment service answers an unknown path with the standard JSON error body, DEBUG on or off (the
chassis' JsonErrorsMiddleware: this urlconf names no handler views of its own)."""

import pytest

from tests.json_errors import assert_json_error

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("debug", [True, False], ids=["debug", "no-debug"])
def test_an_unknown_path_is_a_json_404(client, settings, debug):
    settings.DEBUG = debug

    body = assert_json_error(client.get("/api/v9/nothing"), 404, "not_found")

    assert body["message"] == "No route for /api/v9/nothing"
