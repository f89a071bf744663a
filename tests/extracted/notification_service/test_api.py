"""/api/v2/notifications: a user's own notifications with their states, and their preferences."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from contracts.notifications import ACCOUNT_REGISTERED
from contracts.tokens import issue_access_token
from extracted.notification_service.models import Notification
from extracted.notification_service.services import intake
from kernel import crypto

from .conftest import event, order_doc, user_doc

pytestmark = pytest.mark.django_db(transaction=True)
LIST = "/api/v2/notifications"
PREFS = "/api/v2/notifications/preferences"
ISSUER = "https://auth.techstore.example"


def welcome(user_id: int, email: str):
    data = {"user_id": user_id, "email": email, "first_name": "Ana", "locale": "en"}
    return event(ACCOUNT_REGISTERED, data, source="monolith")


def test_a_user_lists_only_their_own_notifications_with_states(api_client, as_user, mailbox, eager_tasks):
    intake.notifications_from_event(welcome(81, "kim@example.com"))
    intake.notifications_from_event(welcome(82, "leo@example.com"))
    answer = api_client.get(LIST, **as_user(81, "GET", LIST))
    assert answer.status_code == 200
    body = answer.json()
    assert body["count"] == 1
    [item] = body["results"]
    assert (item["event_type"], item["channel"], item["state"], item["address"]) == (
        ACCOUNT_REGISTERED,
        "email",
        "sent",
        "kim@example.com",
    )


def test_listing_filters_by_state_and_refuses_an_unknown_one(api_client, as_user, mailbox, eager_tasks):
    intake.notifications_from_event(welcome(83, "mia@example.com"))
    sent = api_client.get(LIST, {"state": "sent"}, **as_user(83, "GET", LIST))
    assert sent.json()["count"] == 1
    queued = api_client.get(LIST, {"state": "queued"}, **as_user(83, "GET", LIST))
    assert queued.json()["count"] == 0
    bad = api_client.get(LIST, {"state": "lost"}, **as_user(83, "GET", LIST))
    assert bad.status_code == 400
    assert bad.json()["code"] == "validation_error"


def test_without_the_gateways_identity_the_list_is_refused(api_client, settings):
    settings.INTERNAL_IDENTITY_KEY = "k" * 40
    answer = api_client.get(LIST)
    assert answer.status_code in (401, 403)
    assert answer.json()["code"] in ("not_authenticated", "authentication_failed")
    forged = api_client.get(LIST, HTTP_X_STRANGLER_IDENTITY="v1.forged")
    assert forged.status_code == 401
    assert forged.json()["code"] == "invalid_identity"


def test_preferences_opt_out_of_a_channel_and_choose_a_locale(api_client, as_user, mailbox, eager_tasks):
    intake.recipient_upsert(
        event("user.upserted", user_doc(84, email="nina@example.com"), source="auth_service")
    )
    body = json.dumps({"locale": "en", "opt_outs": [{"channel": "email", "category": "orders"}]}).encode()
    answer = api_client.put(PREFS, body, content_type="application/json", **as_user(84, "PUT", PREFS, body))
    assert answer.status_code == 200, answer.json()
    assert answer.json()["opt_outs"] == [{"channel": "email", "category": "orders"}]
    intake.notifications_from_event(event("order.failed", order_doc(84, number="TS-84")))
    row = Notification.objects.get(user_id=84, channel="email")
    assert (row.state, row.reason, row.locale) == ("suppressed", "opted_out", "en")
    assert mailbox.to("nina@example.com") == []


def test_bad_preferences_are_a_400_naming_the_field(api_client, as_user):
    body = json.dumps({"locale": "fr", "opt_outs": [{"channel": "fax", "category": "orders"}]}).encode()
    answer = api_client.put(PREFS, body, content_type="application/json", **as_user(85, "PUT", PREFS, body))
    assert answer.status_code == 400
    assert set(answer.json()["extra"]["fields"]) == {"locale", "opt_outs"}


class StandInMonolith:
    """A stand-in for the monolith's GET /api/v1/accounts/me (the real one answers in the load suite's stage-6
    smoke, tests/load): one good token, one session, everything else 401; it counts the questions. It also
    serves `jwks` at /.well-known/jwks.json, standing for the Auth service."""

    TOKEN, SESSION = "good-token-84", "session85"

    def __init__(self, jwks: dict):
        self.asked: list[dict[str, str]] = []
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                if self.path == "/.well-known/jwks.json":
                    user = jwks
                else:
                    stand_in.asked.append({"path": self.path, **dict(self.headers)})
                    user = None
                    if self.headers.get("Authorization") == f"Token {stand_in.TOKEN}":
                        user = {"id": 84, "role": "customer"}
                    elif self.headers.get("Cookie") == f"sessionid={stand_in.SESSION}":
                        user = {"id": 85, "role": "staff"}
                body = json.dumps(user or {"code": "not_authenticated"}).encode()
                self.send_response(200 if user and self.path in ("/api/v1/accounts/me", JWKS_PATH) else 401)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


JWKS_PATH = "/.well-known/jwks.json"


@pytest.fixture(scope="module")
def signing():
    key = crypto.generate_private_key()
    return key, crypto.thumbprint(crypto.public_jwk(key.public_key()))


def mint(signing, **claims) -> str:
    key, kid = signing
    arguments = {
        "private_key": key, "kid": kid, "issuer": ISSUER, "audience": "techstore", "subject": "s",
        "ttl_seconds": 300, "scopes": ["read"], "roles": ["customer"], "legacy_user_id": 87,
        "client_id": "web",
    }  # fmt: skip
    return issue_access_token(**{**arguments, **claims})


@pytest.fixture
def monolith(settings, signing):
    from django.core.cache import cache

    key, kid = signing
    stand_in = StandInMonolith({"keys": [crypto.jwk_for_jwks(crypto.public_jwk(key.public_key()), kid=kid)]})
    settings.MONOLITH_URL = settings.AUTH_SERVICE_URL = stand_in.url
    settings.AUTH_ISSUER, settings.AUTH_AUDIENCE = ISSUER, "techstore"
    cache.clear()
    yield stand_in
    stand_in.stop()
    cache.clear()


def test_a_legacy_token_is_checked_at_a_stand_in_monolith_once_and_lists_that_users_notifications(
    api_client, monolith, mailbox, eager_tasks
):
    intake.notifications_from_event(welcome(84, "noa@example.com"))
    intake.notifications_from_event(welcome(86, "oto@example.com"))
    headers = {"HTTP_AUTHORIZATION": f"Token {monolith.TOKEN}"}

    first = api_client.get(LIST, **headers)
    second = api_client.get(LIST, **headers)

    assert (first.status_code, second.status_code) == (200, 200)
    assert [item["address"] for item in second.json()["results"]] == ["noa@example.com"]
    assert len(monolith.asked) == 1  # cached by the credential's hash
    assert monolith.asked[0]["path"] == "/api/v1/accounts/me"
    assert monolith.asked[0]["Authorization"] == f"Token {monolith.TOKEN}"


def test_a_session_cookie_is_checked_at_a_stand_in_monolith_and_its_writes_need_the_csrf_token(monolith):
    from rest_framework.test import APIClient

    browser = APIClient(enforce_csrf_checks=True)
    browser.cookies["sessionid"] = monolith.SESSION
    body = {"locale": "en", "opt_outs": []}

    read = browser.get(PREFS)
    forged = browser.put(PREFS, body, format="json")
    browser.cookies["csrftoken"] = "c" * 32
    written = browser.put(PREFS, body, format="json", HTTP_X_CSRFTOKEN="c" * 32)

    assert read.status_code == 200, read.content
    assert forged.status_code == 403
    assert forged.json()["code"] == "csrf_failed"
    assert written.status_code == 200, written.content
    assert written.json()["locale"] == "en"
    assert monolith.asked[0]["Cookie"] == f"sessionid={monolith.SESSION}"


def test_a_token_the_stand_in_monolith_refuses_is_a_401_and_asked_again_only_later(api_client, monolith):
    for _ in range(2):
        answer = api_client.get(LIST, HTTP_AUTHORIZATION="Token unknown-token")
        assert answer.status_code == 401
        assert answer.json()["code"] == "authentication_failed"
    assert len(monolith.asked) == 1
    malformed = api_client.get(LIST, HTTP_AUTHORIZATION='Token bad"token')
    assert malformed.status_code == 401
    assert len(monolith.asked) == 1  # never sent to the monolith


def test_a_legacy_credential_when_the_monolith_is_away_is_a_503(api_client, settings):
    from django.core.cache import cache

    cache.clear()
    settings.MONOLITH_URL = "http://127.0.0.1:9"
    answer = api_client.get(LIST, HTTP_AUTHORIZATION="Token some-token")
    assert answer.status_code == 503
    assert answer.json()["code"] == "legacy_unavailable"


def test_a_jwt_of_the_auth_service_lists_its_legacy_users_notifications(
    api_client, monolith, signing, mailbox, eager_tasks
):
    intake.notifications_from_event(welcome(87, "pia@example.com"))
    intake.notifications_from_event(welcome(88, "quim@example.com"))
    answer = api_client.get(LIST, HTTP_AUTHORIZATION=f"Bearer {mint(signing)}")
    assert answer.status_code == 200, answer.content
    assert [item["address"] for item in answer.json()["results"]] == ["pia@example.com"]
    assert monolith.asked == []  # verified here, against the JWKS: the monolith is not asked


def test_the_bearer_scheme_is_read_in_any_case_as_the_gateway_reads_it(
    api_client, monolith, signing, eager_tasks
):
    intake.notifications_from_event(welcome(87, "pia@example.com"))
    answer = api_client.get(LIST, HTTP_AUTHORIZATION=f"bearer {mint(signing)}")
    assert answer.status_code == 200, answer.content
    assert [item["address"] for item in answer.json()["results"]] == ["pia@example.com"]
    assert monolith.asked == []  # a JWT, not taken for a legacy credential


@pytest.mark.parametrize(
    ("claims", "code"),
    [
        ({"ttl_seconds": -60}, "token_expired"),
        ({"issuer": "https://elsewhere.example"}, "invalid_issuer"),
        ({"audience": "another-api"}, "invalid_audience"),
        ({"legacy_user_id": None}, "not_a_user"),  # a client-credentials token speaks for no shop user
    ],
)
def test_a_jwt_that_does_not_verify_is_a_401_with_its_reason(api_client, monolith, signing, claims, code):
    answer = api_client.get(LIST, HTTP_AUTHORIZATION=f"Bearer {mint(signing, **claims)}")
    assert answer.status_code == 401
    assert answer.json()["code"] == code


def test_a_jwt_signed_by_a_key_the_auth_service_never_published_is_a_401(api_client, monolith):
    stranger = crypto.generate_private_key()
    forged = mint((stranger, crypto.thumbprint(crypto.public_jwk(stranger.public_key()))))
    answer = api_client.get(LIST, HTTP_AUTHORIZATION=f"Bearer {forged}")
    assert answer.status_code == 401
    assert answer.json()["code"] == "unknown_kid"


def test_through_the_real_gateway_a_jwt_and_a_legacy_token_both_reach_the_users_notifications(
    live_server, monolith, signing, tmp_path, mailbox, eager_tasks
):
    """The shipped routes.yaml (v2.notifications): the gateway checks the JWT at the edge and forwards it, and
    forwards the legacy token; the service verifies each itself."""
    from strangler_proxy.launch import DEFAULT_ROUTES
    from tests.strangler_proxy.conftest import start_gateway, write_flags_file

    intake.notifications_from_event(welcome(87, "pia@example.com"))
    intake.notifications_from_event(welcome(84, "noa@example.com"))
    env = {
        "FLAGS_FILE": str(write_flags_file(tmp_path / "flags.json")),
        "FLAGS_AUDIT_LOG": str(tmp_path / "flags-audit.log"),
        "NOTIFICATION_SERVICE_URL": live_server.url,
        "AUTH_SERVICE_URL": monolith.url,  # the stand-in's JWKS
        "AUTH_ISSUER": ISSUER,
        "AUTH_AUDIENCE": "techstore",
    }
    gateway = start_gateway(
        log_path=tmp_path / "gateway.log", routes_yaml=DEFAULT_ROUTES, env=env, legacy_url=monolith.url
    )
    try:
        with_jwt = requests.get(
            f"{gateway.url}{LIST}", headers={"Authorization": f"Bearer {mint(signing)}"}, timeout=10
        )
        with_token = requests.get(
            f"{gateway.url}{LIST}", headers={"Authorization": f"Token {monolith.TOKEN}"}, timeout=10
        )
    finally:
        gateway.stop()
    assert (with_jwt.status_code, with_token.status_code) == (200, 200), (with_jwt.text, with_token.text)
    assert with_jwt.headers["X-Strangler-Route"] == "v2.notifications"
    assert [item["address"] for item in with_jwt.json()["results"]] == ["pia@example.com"]
    assert [item["address"] for item in with_token.json()["results"]] == ["noa@example.com"]
