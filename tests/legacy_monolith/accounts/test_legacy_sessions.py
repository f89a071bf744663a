"""`manage.py legacy_sessions`: live legacy credentials reported and expired in batches (auth cutover)."""

import json
from datetime import timedelta
from io import StringIO

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.core.management import CommandError, call_command
from django.utils import timezone
from rest_framework.test import APIClient

from contracts import cli
from contracts.identity import sign_identity
from legacy_monolith.accounts import services
from legacy_monolith.accounts.legacy_sessions import legacy_credentials_expire, legacy_credentials_report
from legacy_monolith.accounts.models import ApiToken
from tests.factories import DEFAULT_PASSWORD, UserFactory
from tests.strangler_proxy.conftest import write_flags_file

from .conftest import session_login, url

pytestmark = pytest.mark.django_db


def logged_in_clients(count: int) -> list[APIClient]:
    clients = []
    for _ in range(count):
        client = APIClient()
        assert session_login(client, UserFactory().username).status_code == 200
        clients.append(client)
    return clients


def tokens(count: int):
    return [services.api_token_create(user=UserFactory()) for _ in range(count)]


def run(*args) -> dict:
    out = StringIO()
    call_command("legacy_sessions", *args, "--json", stdout=out)
    return json.loads(out.getvalue())


def test_the_report_counts_live_sessions_and_tokens_but_not_expired_or_revoked_ones():
    logged_in_clients(3)
    live = tokens(2)
    revoked, expired = tokens(2)
    services.api_token_revoke(token=revoked.token)
    ApiToken.objects.filter(pk=expired.token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    Session.objects.create(
        session_key="x" * 32, session_data="", expire_date=timezone.now() - timedelta(seconds=1)
    )

    assert run("report") == {
        "sessions": 3,
        "tokens": 2,
        "token_users": len({t.token.user_id for t in live}),
        "sessions_idle": None,
        "tokens_idle": None,
    }


def test_expire_deletes_sessions_and_revokes_tokens_in_batches_and_the_legacy_clients_are_logged_out():
    clients = logged_in_clients(5)
    issued = tokens(3)

    result = run("expire", "--batch-size", "2")

    assert result == {"sessions_expired": 5, "tokens_revoked": 3, "batches": 3 + 2, "dry_run": False}
    assert legacy_credentials_report().sessions == 0
    assert all(client.get(url("me")).status_code in (401, 403) for client in clients)
    token_client = APIClient()
    token_client.credentials(HTTP_AUTHORIZATION=f"Token {issued[0].key}")
    assert token_client.get(url("me")).status_code == 401


def test_a_dry_run_counts_and_changes_nothing():
    logged_in_clients(3)
    tokens(1)
    assert run("expire", "--dry-run", "--batch-size", "2") == {
        "sessions_expired": 3,
        "tokens_revoked": 1,
        "batches": 3,
        "dry_run": True,
    }
    assert legacy_credentials_report().sessions == 3
    assert legacy_credentials_report().tokens == 1


def test_limit_and_kind_expire_only_that_many_of_that_kind():
    logged_in_clients(4)
    tokens(2)
    assert run("expire", "--kind", "sessions", "--limit", "3", "--batch-size", "2")["sessions_expired"] == 3
    report = legacy_credentials_report()
    assert (report.sessions, report.tokens) == (1, 2)


def test_idle_for_expires_only_credentials_unused_that_long():
    busy, idle = logged_in_clients(2)
    idle_key = idle.cookies[settings.SESSION_COOKIE_NAME].value
    an_hour_ago = timedelta(hours=1)
    Session.objects.filter(session_key=idle_key).update(
        expire_date=timezone.now() + timedelta(seconds=settings.SESSION_COOKIE_AGE) - an_hour_ago
    )
    fresh, stale = tokens(2)
    ApiToken.objects.filter(pk=stale.token.pk).update(last_used_at=timezone.now() - an_hour_ago)
    ApiToken.objects.filter(pk=fresh.token.pk).update(last_used_at=timezone.now())

    report = legacy_credentials_report(idle_for=timedelta(minutes=30))
    assert (report.sessions_idle, report.tokens_idle) == (1, 1)
    result = legacy_credentials_expire(idle_for=timedelta(minutes=30))

    assert (result.sessions_expired, result.tokens_revoked) == (1, 1)
    assert busy.get(url("me")).status_code == 200
    assert idle.get(url("me")).status_code in (401, 403)
    assert ApiToken.objects.get(pk=fresh.token.pk).revoked_at is None


@pytest.mark.parametrize(
    "args", [["--batch-size", "0"], ["--limit", "-1"], ["--pause", "-1"], ["--kind", "cookies"]]
)
def test_bad_options_are_refused(args):
    with pytest.raises(CommandError):
        call_command("legacy_sessions", "expire", *args)


def test_retire_check_passes_only_with_auth_login_at_100_and_no_legacy_credential_live(tmp_path, monkeypatch):
    flags = tmp_path / "flags.json"
    monkeypatch.setenv("FLAGS_FILE", str(write_flags_file(flags)))  # route.auth.login off
    logged_in_clients(1)
    tokens(2)

    with pytest.raises(cli.CheckFailed) as refused:
        call_command("legacy_sessions", "retire-check")
    assert refused.value.code == "not_ready"
    assert [line.split(" ")[0] for line in refused.value.detail_lines] == ["route.auth.login", "1", "2"]

    write_flags_file(flags, enabled={"route.auth.login": True})
    with pytest.raises(cli.CheckFailed) as still:
        call_command("legacy_sessions", "retire-check")
    assert still.value.extra["login_percentage"] == 100
    assert len(still.value.detail_lines) == 2  # the session and the tokens

    legacy_credentials_expire()
    assert run("retire-check") == {
        "ready": True,
        "login_percentage": 100,
        "report": {"sessions": 0, "tokens": 0, "token_users": 0, "sessions_idle": None, "tokens_idle": None},
        "reasons": [],
    }


def test_with_legacy_credentials_off_logins_are_gone_tokens_refused_sessions_ignored_jwt_users_served(
    settings, token_client
):
    user = UserFactory()
    browser = APIClient()
    assert session_login(browser, user.username).status_code == 200
    holder = token_client(user)
    settings.LEGACY_CREDENTIALS = False

    for path in ("login", "tokens"):
        gone = APIClient().post(
            url(path), {"username": user.username, "password": DEFAULT_PASSWORD}, format="json"
        )
        assert (gone.status_code, gone.json()["code"]) == (410, "legacy_credentials_retired")
    refused = holder.get(url("me"))
    assert (refused.status_code, refused.json()["code"]) == (401, "legacy_credentials_retired")
    assert browser.get(url("me")).json()["code"] == "not_authenticated"  # the session counts for nothing
    signed = sign_identity(
        key=settings.INTERNAL_IDENTITY_KEY, user_id=user.pk, roles=["customer"], scope=[], jti="j",
        method="GET", path=url("me"),
    )  # fmt: skip
    assert APIClient().get(url("me"), HTTP_X_STRANGLER_IDENTITY=signed).json()["id"] == user.pk

    settings.LEGACY_CREDENTIALS = True  # turned back on: the same token and session work again
    assert holder.get(url("me")).status_code == browser.get(url("me")).status_code == 200
