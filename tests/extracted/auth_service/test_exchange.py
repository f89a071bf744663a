"""Token exchange against a REAL monolith (gunicorn on its own throwaway PostgreSQL database): its legacy
opaque tokens and sessions are swapped for JWT pairs; what it refuses, the auth service refuses."""

import pytest
import requests

from extracted.auth_service.audit import Event
from extracted.auth_service.models import AuditEntry, Role, User
from legacy_monolith.demo.processes import free_port, manage, monolith_process

from .conftest import throwaway_database
from .test_oauth_flows import Application, verify_like_a_resource_server

PASSWORD = "legacy passphrase 1"


@pytest.fixture(scope="module")
def monolith(tmp_path_factory):
    """The monolith on a throwaway database, with one registered customer."""
    tmp = tmp_path_factory.mktemp("monolith")
    with throwaway_database("techstore_xchg") as database_url:
        env = {
            "DATABASE_URL": database_url,
            "STRANGLER_VAR_DIR": str(tmp / "var"),
            "FAST_PASSWORD_HASHER": "true",
            "DJANGO_SETTINGS_MODULE": "legacy_monolith.settings",
        }
        manage("migrate", "--noinput", "-v0", env=env)
        port = free_port()
        with monolith_process(port=port, env=env, log_path=tmp / "monolith.log"):
            url = f"http://127.0.0.1:{port}"
            registered = requests.post(
                f"{url}/api/v1/accounts/register",
                json={"username": "alice", "email": "alice@techstore.example", "password": PASSWORD},
                timeout=10,
            )
            assert registered.status_code == 201, registered.text
            yield url, registered.json()


@pytest.fixture
def legacy(monolith, settings):
    url, _ = monolith
    settings.MONOLITH_URL = url
    return monolith


@pytest.fixture
def web_app(db):
    return Application.objects.create(
        name="web",
        client_type=Application.CLIENT_PUBLIC,
        authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
        redirect_uris="https://shop.techstore.example/callback",
        client_secret="",
        skip_authorization=True,
    )


def legacy_token(url) -> str:
    answer = requests.post(
        f"{url}/api/v1/accounts/tokens", json={"username": "alice", "password": PASSWORD}, timeout=10
    )
    assert answer.status_code == 201, answer.text
    return answer.json()["token"]


def legacy_session(url) -> str:
    answer = requests.post(
        f"{url}/api/v1/accounts/login", json={"username": "alice", "password": PASSWORD}, timeout=10
    )
    assert answer.status_code == 200, answer.text
    return answer.cookies["sessionid"]


def exchange(api_client, **body):
    return api_client.post("/api/v1/auth/token/exchange", body, format="json")


def test_a_legacy_token_is_exchanged_for_a_jwt_pair_of_the_same_user(api_client, browser, legacy, web_app):
    url, alice = legacy
    answer = exchange(api_client, client_id=web_app.client_id, legacy_token=legacy_token(url))
    assert answer.status_code == 200, answer.content
    assert answer["Cache-Control"] == "no-store"
    pair = answer.json()
    claims = verify_like_a_resource_server(browser, pair["access_token"])
    assert (claims.legacy_user_id, claims.roles, set(claims.scopes)) == (
        alice["id"],
        (Role.CUSTOMER,),
        {"read", "write"},
    )
    mirrored = User.objects.get(legacy_user_id=alice["id"])
    assert (mirrored.username, mirrored.email, mirrored.has_usable_password()) == (
        "alice",
        alice["email"],
        False,
    )
    assert claims.subject == str(mirrored.pk)
    issued = AuditEntry.objects.get(event=Event.TOKEN_ISSUED, user_id=mirrored.pk)
    assert issued.data["grant_type"] == "urn:ietf:params:oauth:grant-type:token-exchange"

    refreshed = browser.post(
        "/o/token",
        {
            "grant_type": "refresh_token",
            "refresh_token": pair["refresh_token"],
            "client_id": web_app.client_id,
        },
    )
    assert refreshed.status_code == 200, (
        refreshed.content
    )  # the exchanged refresh token rotates like any other


def test_a_legacy_session_is_exchanged_and_the_mirror_user_is_reused(api_client, legacy, web_app):
    url, alice = legacy
    first = exchange(api_client, client_id=web_app.client_id, legacy_session=legacy_session(url))
    second = exchange(api_client, client_id=web_app.client_id, legacy_token=legacy_token(url))
    assert (first.status_code, second.status_code) == (200, 200)
    assert User.objects.filter(legacy_user_id=alice["id"]).count() == 1


def test_a_browser_s_legacy_session_cookie_is_exchanged_when_the_body_names_no_credential(
    api_client, legacy, web_app
):
    url, alice = legacy
    api_client.cookies["sessionid"] = legacy_session(url)
    answer = exchange(api_client, client_id=web_app.client_id)
    assert answer.status_code == 200, answer.content
    assert User.objects.get(legacy_user_id=alice["id"]).username == "alice"


def test_a_credential_the_monolith_refuses_is_refused_and_audited(api_client, legacy, web_app):
    answer = exchange(api_client, client_id=web_app.client_id, legacy_token="not-a-token-the-monolith-issued")
    assert (answer.status_code, answer.json()["code"]) == (401, "invalid_legacy_credential")
    refused = AuditEntry.objects.get(event=Event.TOKEN_ISSUED, outcome="refused")
    assert (refused.reason, refused.data["credential"]) == ("invalid_legacy_credential", "legacy_token")
    assert not User.objects.exists()


def test_a_revoked_legacy_token_is_refused(api_client, legacy, web_app):
    url, _ = legacy
    key = legacy_token(url)
    revoked = requests.delete(
        f"{url}/api/v1/accounts/tokens/current", headers={"Authorization": f"Token {key}"}, timeout=10
    )
    assert revoked.status_code == 204
    answer = exchange(api_client, client_id=web_app.client_id, legacy_token=key)
    assert (answer.status_code, answer.json()["code"]) == (401, "invalid_legacy_credential")


def test_an_unreachable_monolith_is_a_503(api_client, web_app, settings):
    settings.MONOLITH_URL = f"http://127.0.0.1:{free_port()}"
    answer = exchange(api_client, client_id=web_app.client_id, legacy_token="whatever")
    assert (answer.status_code, answer.json()["code"]) == (503, "legacy_unavailable")


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"client_id": "no-such-client", "legacy_token": "x"}, "invalid_client"),
        ({"legacy_token": "x"}, "validation_error"),
        ({"legacy_token": "x", "legacy_session": "y", "client_id": "web"}, "validation_error"),
        ({"client_id": "web"}, "legacy_credential_required"),
    ],
)
def test_bad_exchange_requests_are_400s(api_client, web_app, body, code):
    answer = exchange(api_client, **body)
    assert (answer.status_code, answer.json()["code"]) == (400, code)


def test_an_unknown_scope_is_refused(api_client, web_app):
    answer = exchange(
        api_client, client_id=web_app.client_id, legacy_token="x", scope="read admin:everything"
    )
    assert (answer.status_code, answer.json()["code"]) == (400, "invalid_scope")
