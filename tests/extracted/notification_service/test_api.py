"""/api/v2/notifications: a user's own notifications with their states, and their preferences."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from contracts.notifications import ACCOUNT_REGISTERED
from extracted.notification_service.models import Notification
from extracted.notification_service.services import intake

from .conftest import event, order_doc, user_doc

pytestmark = pytest.mark.django_db(transaction=True)
LIST = "/api/v2/notifications"
PREFS = "/api/v2/notifications/preferences"


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
    smoke, tests/load): one good token, one session, everything else 401; it counts the questions."""

    TOKEN, SESSION = "good-token-84", "session85"

    def __init__(self):
        self.asked: list[dict[str, str]] = []
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                stand_in.asked.append({"path": self.path, **dict(self.headers)})
                user = None
                if self.headers.get("Authorization") == f"Token {stand_in.TOKEN}":
                    user = {"id": 84, "role": "customer"}
                elif self.headers.get("Cookie") == f"sessionid={stand_in.SESSION}":
                    user = {"id": 85, "role": "staff"}
                body = json.dumps(user or {"code": "not_authenticated"}).encode()
                self.send_response(200 if user and self.path == "/api/v1/accounts/me" else 401)
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


@pytest.fixture
def monolith(settings):
    from django.core.cache import cache

    stand_in = StandInMonolith()
    settings.MONOLITH_URL = stand_in.url
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
