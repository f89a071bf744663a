import pytest

pytestmark = pytest.mark.django_db


def test_healthz_answers_ok(api_client):
    response = api_client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_checks_the_database(api_client):
    response = api_client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"]["database"] == "ok"


def test_every_response_carries_a_request_id_and_echoes_a_sane_one(api_client):
    minted = api_client.get("/healthz")
    assert len(minted["X-Request-ID"]) == 32
    echoed = api_client.get("/healthz", HTTP_X_REQUEST_ID="trace-abc.123")
    assert echoed["X-Request-ID"] == "trace-abc.123"
    replaced = api_client.get("/healthz", HTTP_X_REQUEST_ID="bad id\nwith newline")
    assert replaced["X-Request-ID"] != "bad id\nwith newline"


def test_unknown_route_is_a_json_404(api_client):
    response = api_client.get("/api/v1/nowhere")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_oversized_body_is_refused_with_413_before_parsing(api_client, settings):
    settings.MAX_REQUEST_BODY_BYTES = 1024
    response = api_client.post("/api/v1/accounts/register", data="x" * 2048, content_type="application/json")
    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"


def test_openapi_schema_is_served(api_client):
    response = api_client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    assert response.json()["info"]["title"] == "TechStore monolith API"


def test_the_demo_logs_in_with_an_account_the_seed_creates():
    from legacy_monolith.core.management.seeding import DEMO_PASSWORD
    from legacy_monolith.core.management.seeding.people import BACK_OFFICE
    from legacy_monolith.demo.__main__ import DEMO_STAFF

    assert DEMO_STAFF[1] == DEMO_PASSWORD
    assert (DEMO_STAFF[0], "staff") in BACK_OFFICE


def test_the_openapi_schema_of_every_app_generates_and_validates_without_warnings(tmp_path):
    from django.core.management import call_command

    out = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    assert "/api/v1/orders/checkout" in out.read_text()
