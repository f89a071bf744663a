import pytest

from legacy_monolith.demo.processes import free_port

pytestmark = pytest.mark.django_db


def test_healthz_answers_while_the_process_is_up(client):
    response = client.get("/healthz")
    assert response.json() == {"status": "ok", "service": "chassis_service"}


def test_readyz_checks_the_database_and_the_service_checks(client, settings):
    settings.REDIS_URL = ""  # no Redis configured (make test sets REDIS_URL for every session)
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"] == {"database": "ok", "probe": "ok"}


def test_readyz_is_503_naming_the_failing_service_check(client, monkeypatch, tmp_path):
    monkeypatch.setenv("CHASSIS_PROBE_FILE", str(tmp_path / "absent"))
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert (body["code"], body["extra"]["failing"]) == ("not_ready", ["probe"])
    assert body["extra"]["checks"]["database"] == "ok"
    assert "absent is missing" in body["extra"]["checks"]["probe"]


def test_readyz_checks_redis_when_configured_and_names_it_when_down(client, settings):
    settings.REDIS_URL = "redis://127.0.0.1:6379/0"
    assert client.get("/readyz").json()["checks"]["redis"] == "ok"
    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["extra"]["failing"] == ["redis"]


def test_readyz_checks_the_broker_when_configured_and_names_it_when_down(client, settings):
    settings.BROKER_CONFIGURED = True
    settings.BROKER_TRANSPORT_OPTIONS = {}
    settings.BROKER_URL = "amqp://guest:guest@127.0.0.1:5672//"
    assert client.get("/readyz").json()["checks"]["broker"] == "ok"
    settings.BROKER_URL = f"amqp://guest:guest@127.0.0.1:{free_port()}//"
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["extra"]["failing"] == ["broker"]


def test_readyz_names_the_database_when_it_is_unreachable(client, settings):
    from django.db import connections

    connection = connections["default"]
    saved = dict(connection.settings_dict)
    connection.close()
    connection.settings_dict["PORT"] = free_port()
    try:
        response = client.get("/readyz")
    finally:
        connection.settings_dict.clear()
        connection.settings_dict.update(saved)
    assert response.status_code == 503
    assert response.json()["extra"]["failing"] == ["database"]


def test_an_optional_check_that_fails_is_reported_but_the_service_stays_ready(client, settings):
    settings.READINESS_OPTIONAL = {"redis"}
    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"
    response = client.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["degraded"]) == ("degraded", ["redis"])
    assert body["checks"]["redis"].startswith("ConnectionError")
    assert body["checks"]["database"] == "ok"


def test_a_failing_required_check_is_503_even_when_only_an_optional_one_is_reported_with_it(
    client, settings, monkeypatch, tmp_path
):
    settings.READINESS_OPTIONAL = {"redis"}
    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"
    monkeypatch.setenv("CHASSIS_PROBE_FILE", str(tmp_path / "absent"))
    response = client.get("/readyz")
    assert response.status_code == 503
    extra = response.json()["extra"]
    assert (extra["failing"], extra["degraded"]) == (["probe"], ["redis"])
