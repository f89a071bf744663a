"""/api/v2/notifications: a user's own notifications with their states, and their preferences."""

from __future__ import annotations

import json

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
