"""The status page and its JSON API are staff-only (a session from the monolith's login, or the gateway's
signed identity for a JWT with a staff role), self-contained (no external asset), and link to the shadow
report and each runbook."""

import re

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from contracts.identity import sign_identity
from tests.strangler_proxy.conftest import write_flags_file

PAGE = "/ops/migration/"
API = "/ops/migration/api/status"
pytestmark = pytest.mark.django_db(databases=["default", "control", "shadow"])


@pytest.fixture(autouse=True)
def flags_file(tmp_path, monkeypatch):
    monkeypatch.setenv("FLAGS_FILE", str(write_flags_file(tmp_path / "flags.json")))
    monkeypatch.setenv("STRANGLER_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("GATEWAY_METRICS_URLS", "http://127.0.0.1:18239/metrics")  # nobody listens


@pytest.mark.parametrize(
    "path", [PAGE, API, "/ops/migration/shadow-report", "/ops/migration/runbooks/products"]
)
def test_anonymous_and_customers_are_refused_with_a_json_error(path, customer, client_for):
    anonymous = APIClient().get(path)
    assert anonymous.status_code in (401, 403)
    assert anonymous.json()["code"] in ("not_authenticated", "authentication_failed")
    refused = client_for(customer).get(path)
    assert refused.status_code == 403
    assert refused.json()["code"] == "permission_denied"


def test_a_staff_session_gets_a_page_that_loads_nothing_from_elsewhere(staff_user):
    client = APIClient()
    client.force_login(staff_user)

    page = client.get(PAGE)

    assert page.status_code == 200
    html = page.content.decode()
    assert "<script>" in html
    assert "<style>" in html
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)  # nothing fetched off the site
    assert "@import" not in html
    assert 'href="shadow-report"' in html


def test_a_jwt_user_with_the_staff_role_reads_the_api_through_the_gateway_identity(staff_user):
    value = sign_identity(
        key=settings.INTERNAL_IDENTITY_KEY,
        user_id=staff_user.pk,
        roles=["staff"],
        scope=["read"],
        jti="jti-cockpit",
        method="GET",
        path=API,
    )

    answer = APIClient().get(API, HTTP_X_STRANGLER_IDENTITY=value)

    assert answer.status_code == 200
    status = answer.json()
    assert [s["name"] for s in status["stages"]][:2] == ["gateway", "products"]
    assert status["areas"]["flags"]["ok"] is True
    assert status["areas"]["gateway"]["ok"] is False
    assert "127.0.0.1:18239" in status["areas"]["gateway"]["error"]


def test_the_runbook_page_shows_every_step_with_its_check_and_rollback(staff_user):
    client = APIClient()
    client.force_login(staff_user)

    page = client.get("/ops/migration/runbooks/products").content.decode()

    for step in ("backfill", "verify", "canary-1", "canary-10", "half", "all"):
        assert f"{step}</b>" in page
    assert "manage.py flags rollout route.catalog.read 100" in page
    assert "rollback: <code>manage.py flags off route.catalog.read</code>" in page
    missing = client.get("/ops/migration/runbooks/nope")
    assert missing.status_code == 404
    assert missing.json()["code"] == "unknown_runbook"


def test_the_shadow_report_page_says_the_store_is_unreadable_with_a_503_not_a_500(staff_user):
    """The shadow store not migrated (a fresh monolith that never ran `shadow migrate`): the page answers the
    error body with 503 shadow_store_unavailable (found by schemathesis as a 500)."""
    from django.db import connections

    client = APIClient()
    client.force_login(staff_user)
    assert client.get("/ops/migration/shadow-report").status_code == 200
    with connections["shadow"].cursor() as cursor:  # rolled back with the test's transaction
        cursor.execute("ALTER TABLE shadow_routestats RENAME TO shadow_routestats_away")

    answer = client.get("/ops/migration/shadow-report")

    assert answer.status_code == 503
    body = answer.json()
    assert body["code"] == "shadow_store_unavailable"
    assert "shadow_routestats" in body["message"]
