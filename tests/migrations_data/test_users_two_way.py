"""The two-way user sync with real processes: a REAL auth service (gunicorn, its own PostgreSQL database)
publishing `user.upserted` through its outbox relay to RabbitMQ (a vhost of this module's own), and the
monolith's `sync users receive` applying them to its tables (the test database).

- a user registered at the auth service appears in the monolith with the same id, owned by the auth
  service, and logs in there with the same password (a PBKDF2 hash: never Argon2id);
- profile changes made there reach the monolith; the monolith's echo is stale there (no ping-pong);
- a password reset there ends the user's legacy sessions and tokens on the monolith;
- a redelivered event changes nothing twice;
- `sync users verify` sees both directions and --repair fixes each id from the side that wins."""

import json
import re

import pytest
import requests
from django.contrib.auth.hashers import identify_hasher
from django.core.management import call_command
from django.test import Client

from contracts.user import version_of
from legacy_monolith.accounts.models import ApiToken, User
from legacy_monolith.accounts.services import api_token_create
from legacy_monolith.demo.processes import service_manage
from migrations_data.engine.http import InternalApiClient
from migrations_data.engine.receive import run_receiver
from migrations_data.users.follow import run_follow
from migrations_data.users.receive import UsersReceiver, user_document_apply
from migrations_data.users.verify import verify_users
from tests.background import rabbitmq_vhost
from tests.e2e.auth_service import running_auth_service
from tests.factories import DEFAULT_PASSWORD, UserFactory

from .test_users_sync import auth_rows, login

pytestmark = pytest.mark.django_db(transaction=True)

STRONG = "violet-tractor-88-lantern"


@pytest.fixture(scope="module")
def broker_url():
    with rabbitmq_vhost() as url:
        yield url


@pytest.fixture(scope="module")
def auth_service(broker_url, tmp_path_factory):
    env = {"BROKER_URL": broker_url, "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend"}
    with running_auth_service(var_dir=tmp_path_factory.mktemp("auth-two-way"), env=env) as service:
        yield service


@pytest.fixture
def client(auth_service, broker_url, settings):
    """The internal API client on an auth service holding no user, and the monolith's queue declared
    (and drained of what an earlier test left)."""
    for table in ("refreshtoken", "accesstoken", "idtoken", "grant"):
        auth_rows(auth_service, f"DELETE FROM oauth2_provider_{table}")
    auth_rows(auth_service, "DELETE FROM auth_service_password_reset_token")
    auth_rows(auth_service, "DELETE FROM auth_service_user")
    auth_rows(auth_service, "DELETE FROM chassis_outbox_event")
    settings.AUTH_SERVICE_URL = auth_service.url
    settings.INTERNAL_API_TOKEN = auth_service.token
    api = InternalApiClient(auth_service.url, auth_service.token, attempts=2, backoff_max=0.2)
    run_receiver(UsersReceiver(), once=True, broker_url=broker_url)
    yield api
    api.close()


def relay_and_receive(auth_service, broker_url):
    """The auth service's outbox to the broker, then the monolith's receiver until its queue is empty."""
    service_manage("auth_service", "relay_outbox", "--once", env=auth_service.env)
    return run_receiver(UsersReceiver(), once=True, broker_url=broker_url)


def register(auth_service, username="ada") -> dict:
    answer = requests.post(
        f"{auth_service.url}/api/v1/accounts/register",
        json={"username": username, "email": f"{username}@example.com", "password": STRONG},
        timeout=10,
    )
    assert answer.status_code == 201, answer.text
    return answer.json()


def bearer_of(auth_service, username, password) -> dict[str, str]:
    pair = login(auth_service, username, password)
    assert pair.status_code == 200, pair.text
    return {"Authorization": f"Bearer {pair.json()['access_token']}"}


def monolith_login(username, password) -> int:
    return (
        Client()
        .post(
            "/api/v1/accounts/login",
            json.dumps({"username": username, "password": password}),
            "application/json",
        )
        .status_code
    )


def test_a_user_registered_at_the_auth_service_appears_in_the_monolith_and_logs_in_there(
    auth_service, broker_url, client
):
    body = register(auth_service)

    received = relay_and_receive(auth_service, broker_url)

    assert received.processed == 1
    user = User.objects.get(pk=body["id"])  # the same id on both sides
    assert (user.username, user.origin, user.role) == ("ada", "auth", "customer")
    assert identify_hasher(user.password).algorithm == "pbkdf2_sha256"
    assert list(user.groups.values_list("name", flat=True)) == ["customer"]
    assert monolith_login("ada", STRONG) == 200
    assert verify_users(client=client).differences == 0


def test_profile_changes_made_at_the_auth_service_reach_the_monolith_and_the_echo_is_stale(
    auth_service, broker_url, client
):
    user = UserFactory(first_name="Ada")
    call_command("sync", "users", "backfill", "--no-progress", "--restart")
    headers = bearer_of(auth_service, user.username, DEFAULT_PASSWORD)

    me = f"{auth_service.url}/api/v1/accounts/me"
    patched = requests.patch(me, json={"phone": "+44 20 7946 0000"}, headers=headers, timeout=10)
    relay_and_receive(auth_service, broker_url)

    assert patched.status_code == 200, patched.text
    user.refresh_from_db()
    assert (user.phone, user.first_name, user.origin) == ("+44 20 7946 0000", "Ada", "monolith")
    echo = run_follow(client, once=True)
    assert echo.applied == 0  # the monolith's copy carries the auth service's version: stale there
    assert verify_users(client=client).differences == 0


def test_a_password_reset_at_the_auth_service_ends_legacy_sessions_and_tokens_on_the_monolith(
    auth_service, broker_url, client, tmp_path
):
    user = UserFactory(email="reset@example.com")
    call_command("sync", "users", "backfill", "--no-progress", "--restart")
    token = api_token_create(user=user)
    browser = Client()
    assert (
        browser.post(
            "/api/v1/accounts/login",
            json.dumps({"username": user.username, "password": DEFAULT_PASSWORD}),
            "application/json",
        ).status_code
        == 200
    )
    asked = requests.post(
        f"{auth_service.url}/api/v1/accounts/password/reset", json={"email": "reset@example.com"}, timeout=10
    )
    assert asked.status_code == 202
    mails = sorted((auth_service_mail_dir(auth_service)).glob("*.log"))
    key = re.search(r"^    (\S+)$", mails[-1].read_text(), re.MULTILINE).group(1)
    confirmed = requests.post(
        f"{auth_service.url}/api/v1/accounts/password/reset/confirm",
        json={"token": key, "new_password": STRONG},
        timeout=10,
    )
    assert confirmed.status_code == 204, confirmed.text

    relay_and_receive(auth_service, broker_url)

    assert ApiToken.objects.get(pk=token.token.pk).revoked_at is not None
    assert browser.get("/api/v1/accounts/me").status_code in (401, 403)  # the session is over
    assert monolith_login(user.username, DEFAULT_PASSWORD) == 401
    assert monolith_login(user.username, STRONG) == 200


def auth_service_mail_dir(auth_service):
    from pathlib import Path

    return Path(auth_service.env["STRANGLER_VAR_DIR"]) / "mail" / "auth_service"


def test_a_redelivered_event_changes_nothing_twice(auth_service, broker_url, client):
    body = register(auth_service, "grace")
    relay_and_receive(auth_service, broker_url)
    auth_rows(auth_service, "UPDATE chassis_outbox_event SET sent_at = NULL")  # the relay sends it again

    again = relay_and_receive(auth_service, broker_url)

    assert (again.processed, again.duplicate) == (0, 1)
    assert User.objects.filter(pk=body["id"]).count() == 1


def test_an_argon2id_hash_never_reaches_the_monolith():
    user = UserFactory()
    pbkdf2 = user.password
    doc = {
        "id": user.pk,
        "username": user.username,
        "email": user.email,
        "first_name": "New",
        "last_name": "",
        "phone": "",
        "role": "customer",
        "is_active": True,
        "date_joined": "2026-01-01T00:00:00Z",
        "password": "argon2$argon2id$v=19$m=102400,t=2,p=8$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo",
        "origin": "monolith",
        "version": version_of(user.updated_at) + 1,
    }

    assert user_document_apply(doc) is True

    user.refresh_from_db()
    assert (user.first_name, user.password) == ("New", pbkdf2)


def test_verify_sees_both_directions_and_repair_takes_each_id_from_the_side_that_wins(
    auth_service, broker_url, client
):
    changed_here, changed_there = UserFactory(), UserFactory()
    call_command("sync", "users", "backfill", "--no-progress", "--restart")
    registered = register(auth_service, "hopper")  # its event is never received: an `extra`
    User.objects.filter(pk=changed_here.pk).update(last_name="Bypassed")  # no version bump
    headers = bearer_of(auth_service, changed_there.username, DEFAULT_PASSWORD)
    me = f"{auth_service.url}/api/v1/accounts/me"
    assert requests.patch(me, json={"last_name": "There"}, headers=headers, timeout=10).status_code == 200

    report = verify_users(client=client)
    repaired = verify_users(client=client, repair=True)

    assert (report.missing, report.extra) == ([], [registered["id"]])
    assert report.different == sorted([changed_here.pk, changed_there.pk])
    assert repaired.repaired == {"to_auth_service": 1, "to_monolith": 2, "remaining": 0}
    assert User.objects.get(pk=changed_there.pk).last_name == "There"  # the newer version won
    assert User.objects.get(pk=registered["id"]).origin == "auth"
    assert verify_users(client=client).differences == 0
