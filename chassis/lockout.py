"""The failed-login lockout as the monolith and the Auth service both apply it (kernel.lockout's rule and
store, read from the same settings on both sides):

- AUTH_LOCKOUT_THRESHOLD failures (5) within AUTH_LOCKOUT_WINDOW_SECONDS (900) lock a username for
  AUTH_LOCKOUT_SECONDS (900); the failure that reaches the threshold already answers 423;
- the store is Redis at AUTH_LOCKOUT_REDIS_URL (default REDIS_URL; keys AUTH_LOCKOUT_KEY_PREFIX +
  username), or without Redis the SQLite file AUTH_LOCKOUT_FILE (default VAR_DIR/lockout.sqlite3), so
  both sides count into one counter (deploy/ points both at one Redis database);
- a locked username is 423 `account_locked` with `extra.unlock_at` and Retry-After, whichever side asks.
"""

from __future__ import annotations

import functools
from datetime import datetime
from pathlib import Path

from django.conf import settings

from contracts.errors import ApplicationError
from kernel.lockout import (
    DEFAULT_PREFIX,
    LockoutPolicy,
    LockoutState,
    LockoutStore,
    RedisLockoutStore,
    SqliteLockoutStore,
)

__all__ = [
    "AccountLocked",
    "LockoutPolicy",
    "LockoutState",
    "lockout_policy",
    "lockout_store",
    "login_failure_record",
    "login_lock_check",
    "login_throttle_clear",
]


class AccountLocked(ApplicationError):
    """423 account_locked with the unlock time; the exception handler adds Retry-After (seconds to it)."""

    status_code = 423

    def __init__(self, *, unlock_at: datetime, now: datetime):
        super().__init__(
            "account_locked",
            "Too many failed logins; this account is locked until the unlock time",
            extra={"unlock_at": unlock_at.isoformat().replace("+00:00", "Z")},
        )
        self.retry_after = max(1, int((unlock_at - now).total_seconds() + 0.999))


def lockout_policy() -> LockoutPolicy:
    return LockoutPolicy.of_seconds(
        threshold=settings.AUTH_LOCKOUT_THRESHOLD,
        window=settings.AUTH_LOCKOUT_WINDOW_SECONDS,
        lock_for=settings.AUTH_LOCKOUT_SECONDS,
    )


@functools.cache
def _redis_client(url: str):
    import redis

    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)


@functools.cache
def _sqlite_store(path: str) -> SqliteLockoutStore:
    return SqliteLockoutStore(path)


def lockout_store() -> LockoutStore:
    """The store the settings name (one Redis connection pool / SQLite file per process, reused)."""
    redis_url = getattr(settings, "AUTH_LOCKOUT_REDIS_URL", None) or getattr(settings, "REDIS_URL", "") or ""
    if redis_url:
        prefix = getattr(settings, "AUTH_LOCKOUT_KEY_PREFIX", "") or DEFAULT_PREFIX
        return RedisLockoutStore(_redis_client(redis_url), prefix=prefix)
    path = getattr(settings, "AUTH_LOCKOUT_FILE", "") or Path(settings.VAR_DIR) / "lockout.sqlite3"
    return _sqlite_store(str(path))


def login_lock_check(*, username: str, now: datetime) -> None:
    """Raise AccountLocked while `username` is locked."""
    state = lockout_store().state(username)
    if state.is_locked(now):
        raise AccountLocked(unlock_at=state.locked_until, now=now)


def login_failure_record(
    *, username: str, now: datetime, policy: LockoutPolicy | None = None
) -> LockoutState:
    """Count a failed login; the state after it (locked or not)."""
    return lockout_store().record_failure(username, now=now, policy=policy or lockout_policy())


def login_throttle_clear(*, username: str, now: datetime) -> bool:
    """Forget the failures of `username` (a successful login, or an unlock). True if it was locked."""
    return lockout_store().clear(username, now=now)
