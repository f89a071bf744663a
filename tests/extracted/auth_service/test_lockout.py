from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from chassis.lockout import lockout_store
from extracted.auth_service.audit import Event
from extracted.auth_service.models import AuditEntry
from kernel.lockout import LockoutPolicy, LockoutState, next_state_after_failure

from .conftest import PASSWORD

T0 = datetime(2026, 1, 1, tzinfo=UTC)
POLICY = LockoutPolicy(threshold=3, window=timedelta(minutes=10), lock_for=timedelta(minutes=15))


def after(failures_at_minutes):
    state = LockoutState()
    for minute in failures_at_minutes:
        state = next_state_after_failure(state, now=T0 + timedelta(minutes=minute), policy=POLICY)
    return state


@pytest.mark.parametrize(
    ("failures_at", "locked_until"),
    [
        ([0, 1], None),  # below the threshold
        ([0, 1, 2], T0 + timedelta(minutes=17)),  # the third failure in the window locks
        ([0, 1, 11], None),  # the window passed: counting starts again
        ([0, 5, 9], T0 + timedelta(minutes=24)),
        ([0, 1, 2, 20], None),  # the lock ended: a new failure starts a new count
    ],
)
def test_failures_within_the_window_lock_until_the_lock_time(failures_at, locked_until):
    assert after(failures_at).locked_until == locked_until


def test_a_lock_lasts_until_its_end_and_no_longer():
    state = after([0, 1, 2])
    assert state.is_locked(T0 + timedelta(minutes=16, seconds=59))
    assert not state.is_locked(T0 + timedelta(minutes=17))


def login(api_client, username, password):
    return api_client.post("/api/v1/auth/login", {"username": username, "password": password}, format="json")


def test_brute_force_ends_in_a_423_lockout_with_the_unlock_time_and_retry_after(
    api_client, make_user, settings
):
    user = make_user()
    answers = [login(api_client, user.username, f"guess-{n}") for n in range(settings.AUTH_LOCKOUT_THRESHOLD)]
    assert [a.status_code for a in answers[:-1]] == [401] * (settings.AUTH_LOCKOUT_THRESHOLD - 1)
    assert {a.json()["code"] for a in answers[:-1]} == {"invalid_credentials"}
    locked = answers[-1]
    assert locked.status_code == 423
    body = locked.json()
    assert body["code"] == "account_locked"
    unlock_at = datetime.fromisoformat(body["extra"]["unlock_at"])
    expected = timezone.now() + timedelta(seconds=settings.AUTH_LOCKOUT_SECONDS)
    assert abs((unlock_at - expected).total_seconds()) < 60
    assert 0 < int(locked["Retry-After"]) <= settings.AUTH_LOCKOUT_SECONDS

    right_password = login(api_client, user.username, PASSWORD)
    assert right_password.status_code == 423  # the lock holds even for the right password
    events = list(AuditEntry.objects.filter(username=user.username).values_list("event", "outcome", "reason"))
    assert events.count((Event.LOGIN, "failed", "invalid_credentials")) == settings.AUTH_LOCKOUT_THRESHOLD
    assert (Event.LOCKOUT, "locked", "too_many_failures") in events
    assert events[-1] == (Event.LOGIN, "failed", "account_locked")


def test_the_lock_counts_one_account_whether_named_by_username_or_email(api_client, make_user, settings):
    user = make_user()
    names = [user.username, user.email] * settings.AUTH_LOCKOUT_THRESHOLD
    codes = [login(api_client, name, "wrong-password").status_code for name in names]
    assert codes.index(423) == settings.AUTH_LOCKOUT_THRESHOLD - 1


def test_unknown_usernames_are_counted_and_locked_like_real_ones(api_client, db, settings):
    codes = [
        login(api_client, "nobody-here", "x").status_code for _ in range(settings.AUTH_LOCKOUT_THRESHOLD)
    ]
    assert codes[-1] == 423
    assert lockout_store().state("nobody-here").is_locked(timezone.now())


def test_a_success_before_the_threshold_clears_the_failures(api_client, make_user, settings):
    user = make_user()
    for _ in range(settings.AUTH_LOCKOUT_THRESHOLD - 1):
        assert login(api_client, user.username, "wrong-password").status_code == 401
    assert login(api_client, user.username, PASSWORD).status_code == 200
    assert login(api_client, user.username, "wrong-password").status_code == 401
