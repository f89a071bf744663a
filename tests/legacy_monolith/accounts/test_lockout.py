"""The monolith's logins (session and legacy token) apply the Auth service's failed-login lockout, counting
into the same store (chassis.lockout on real Redis). The Auth service's side of the same counter is its
own test session (tests/extracted/auth_service/test_lockout.py); both processes together are in
tests/e2e/test_auth_cutover.py."""

from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from chassis.lockout import lockout_store, login_failure_record
from tests.factories import DEFAULT_PASSWORD, UserFactory

from .conftest import url

pytestmark = pytest.mark.django_db


def session_login(client, username, password):
    return client.post(url("login"), {"username": username, "password": password}, format="json")


def token_login(client, username, password):
    return client.post(url("tokens"), {"username": username, "password": password}, format="json")


def test_the_store_is_redis_here(settings):
    assert settings.REDIS_URL, "these tests are about the shared Redis store; set REDIS_URL"
    assert type(lockout_store()).__name__ == "RedisLockoutStore"


def test_brute_force_at_the_session_login_ends_in_the_auth_services_423(api_client, settings):
    user = UserFactory()
    answers = [
        session_login(api_client, user.username, f"guess-{n}") for n in range(settings.AUTH_LOCKOUT_THRESHOLD)
    ]
    assert [(a.status_code, a.json()["code"]) for a in answers[:-1]] == [(401, "invalid_credentials")] * (
        settings.AUTH_LOCKOUT_THRESHOLD - 1
    )
    locked = answers[-1]
    assert (locked.status_code, locked.json()["code"]) == (423, "account_locked")
    assert locked.json()["message"] == "Too many failed logins; this account is locked until the unlock time"
    unlock_at = datetime.fromisoformat(locked.json()["extra"]["unlock_at"])
    expected = timezone.now() + timedelta(seconds=settings.AUTH_LOCKOUT_SECONDS)
    assert abs((unlock_at - expected).total_seconds()) < 60
    assert 0 < int(locked["Retry-After"]) <= settings.AUTH_LOCKOUT_SECONDS

    right = session_login(api_client, user.username, DEFAULT_PASSWORD)
    assert (right.status_code, right.json()["code"]) == (423, "account_locked")  # no password checked
    assert "sessionid" not in right.cookies


def test_session_and_token_logins_count_into_one_counter(api_client, settings):
    user = UserFactory()
    for n in range(settings.AUTH_LOCKOUT_THRESHOLD - 1):
        login = session_login if n % 2 else token_login
        assert login(api_client, user.username, "wrong").status_code == 401
    assert token_login(api_client, user.email, "wrong").status_code == 423  # by email: the same account
    assert token_login(api_client, user.username, DEFAULT_PASSWORD).status_code == 423
    assert lockout_store().state(user.username).is_locked(timezone.now())


def test_a_lock_set_elsewhere_refuses_both_monolith_logins(api_client, settings):
    """What the Auth service leaves in the store after a brute force there (same key, same settings)."""
    user = UserFactory()
    for _ in range(settings.AUTH_LOCKOUT_THRESHOLD):
        login_failure_record(username=user.username.upper(), now=timezone.now())
    for login in (session_login, token_login):
        answer = login(api_client, user.username, DEFAULT_PASSWORD)
        assert (answer.status_code, answer.json()["code"]) == (423, "account_locked")
    assert lockout_store().clear(user.username, now=timezone.now()) is True  # the Auth service's unlock
    assert session_login(api_client, user.username, DEFAULT_PASSWORD).status_code == 200


def test_a_success_before_the_threshold_clears_the_failures(api_client, settings):
    user = UserFactory()
    for _ in range(settings.AUTH_LOCKOUT_THRESHOLD - 1):
        assert session_login(api_client, user.username, "wrong").status_code == 401
    assert token_login(api_client, user.username, DEFAULT_PASSWORD).status_code == 201
    assert lockout_store().state(user.username).failures == 0
    for _ in range(settings.AUTH_LOCKOUT_THRESHOLD - 1):
        assert session_login(api_client, user.username, "wrong").status_code == 401


def test_unknown_usernames_are_counted_and_locked_like_real_ones(api_client, settings):
    codes = [
        session_login(api_client, "nobody-here", "x").status_code
        for _ in range(settings.AUTH_LOCKOUT_THRESHOLD)
    ]
    assert codes == [401] * (settings.AUTH_LOCKOUT_THRESHOLD - 1) + [423]


def test_a_disabled_account_still_counts_wrong_passwords(api_client, settings):
    user = UserFactory(is_active=False)
    assert session_login(api_client, user.username, DEFAULT_PASSWORD).json()["code"] == "account_inactive"
    codes = [
        session_login(api_client, user.username, "x").status_code
        for _ in range(settings.AUTH_LOCKOUT_THRESHOLD)
    ]
    assert codes[-1] == 423
