"""Brute-force lockout: N failed logins for one username within a window lock it until a given time.

The rule is a pure function over a small state (`next_state_after_failure`), tested with tables; the
store (`login_failure_record`, `login_lock_check`, `login_success_record`) keeps one row per username,
updated under a row lock so concurrent failures count exactly. Unknown usernames are counted and locked
like real ones, so a lockout does not reveal which accounts exist.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from contracts.errors import ApplicationError

from .models import LoginThrottle


@dataclass(frozen=True)
class LockoutPolicy:
    threshold: int  # failures within the window that lock the account
    window: timedelta  # failures older than this are forgotten
    lock_for: timedelta  # how long a lock lasts

    @classmethod
    def from_settings(cls) -> LockoutPolicy:
        return cls(
            threshold=settings.AUTH_LOCKOUT_THRESHOLD,
            window=timedelta(seconds=settings.AUTH_LOCKOUT_WINDOW_SECONDS),
            lock_for=timedelta(seconds=settings.AUTH_LOCKOUT_SECONDS),
        )


@dataclass(frozen=True)
class LockoutState:
    failures: int = 0
    window_started_at: datetime | None = None
    locked_until: datetime | None = None

    def is_locked(self, now: datetime) -> bool:
        return self.locked_until is not None and self.locked_until > now


def next_state_after_failure(state: LockoutState, *, now: datetime, policy: LockoutPolicy) -> LockoutState:
    """Count one failure. A window that has passed (or an expired lock) starts the count again."""
    window_open = state.window_started_at is not None and now - state.window_started_at < policy.window
    lock_over = state.locked_until is not None and state.locked_until <= now
    if not window_open or lock_over:
        state = LockoutState(failures=0, window_started_at=now, locked_until=None)
    state = replace(state, failures=state.failures + 1)
    if state.failures >= policy.threshold and not state.is_locked(now):
        state = replace(state, locked_until=now + policy.lock_for)
    return state


class AccountLocked(ApplicationError):
    """423 account_locked with the unlock time; the view adds Retry-After (seconds until then)."""

    status_code = 423

    def __init__(self, *, unlock_at: datetime, now: datetime):
        super().__init__(
            "account_locked",
            "Too many failed logins; this account is locked until the unlock time",
            extra={"unlock_at": unlock_at.isoformat().replace("+00:00", "Z")},
        )
        self.retry_after = max(1, int((unlock_at - now).total_seconds() + 0.999))


def _state_of(row) -> LockoutState:
    return LockoutState(row.failures, row.window_started_at, row.locked_until)


def throttle_key(username: str) -> str:
    return username.strip().lower()[:254]


def login_lock_check(*, username: str, now: datetime) -> None:
    """Raise AccountLocked while `username` is locked."""
    row = LoginThrottle.objects.filter(username=throttle_key(username)).first()
    if row is not None and _state_of(row).is_locked(now):
        raise AccountLocked(unlock_at=row.locked_until, now=now)


def login_failure_record(*, username: str, now: datetime, policy: LockoutPolicy) -> LockoutState:
    """Count a failed login under the row lock; the state after it (locked or not)."""
    with transaction.atomic():
        row, _ = LoginThrottle.objects.select_for_update().get_or_create(username=throttle_key(username))
        state = next_state_after_failure(_state_of(row), now=now, policy=policy)
        row.failures, row.window_started_at, row.locked_until = (
            state.failures,
            state.window_started_at,
            state.locked_until,
        )
        row.save()
    return state


def login_throttle_clear(*, username: str) -> bool:
    """Forget the failures of `username` (a successful login, or an unlock). True if it was locked."""
    key = throttle_key(username)
    was_locked = LoginThrottle.objects.filter(username=key, locked_until__gt=timezone.now()).exists()
    LoginThrottle.objects.filter(username=key).delete()
    return was_locked
