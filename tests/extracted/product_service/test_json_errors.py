"""The Product service answers an unknown path and a refused method with the standard JSON error body,
DEBUG on or off (the chassis' JsonErrorsMiddleware and handler views)."""

import pytest

from tests.json_errors import assert_json_error

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("debug", [True, False], ids=["debug", "no-debug"])
def test_unknown_paths_and_refused_methods_are_json(client, settings, debug):
    settings.DEBUG = debug

    assert_json_error(client.get("/api/v9/nothing"), 404, "not_found")
    assert_json_error(client.post("/api/v2/catalog/products"), 405, "method_not_allowed")
