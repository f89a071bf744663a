"""Failed-login lockout: N failures for one username within a window lock it until a given time.

One policy and one counter for every process that checks a password (the monolith's session and token
logins, the Auth service's logins), so moving `route.auth.login` between them cannot reset a count.

- The rule is a pure function over a small state (`next_state_after_failure`), tested with tables.
- The counter lives in a store keyed by the normalised username (`lockout_key`):
  - `RedisLockoutStore` (the services profile, REDIS_URL): one hash per username, updated in a
    WATCH/MULTI transaction so concurrent failures from any process count exactly; it expires by itself
    once neither the window nor the lock needs it.
  - `SqliteLockoutStore` (the embedded profile, no Redis): one SQLite file on the machine's disk
    (`var/lockout.sqlite3` unless told), updated under `BEGIN IMMEDIATE`. The monolith and the Auth
    service of one machine open the same file, so they still share one counter across processes and
    workers; an in-process store would give each worker its own count, multiplying the threshold.
Store errors propagate: a login whose lock cannot be checked fails, it is never let through unchecked.
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol

DEFAULT_PREFIX = "strangler:lockout:"
MAX_KEY_LENGTH = 254


@dataclass(frozen=True)
class LockoutPolicy:
    threshold: int  # failures within the window that lock the account
    window: timedelta  # failures older than this are forgotten
    lock_for: timedelta  # how long a lock lasts

    @classmethod
    def of_seconds(cls, *, threshold: int, window: int, lock_for: int) -> LockoutPolicy:
        return cls(threshold, timedelta(seconds=window), timedelta(seconds=lock_for))


@dataclass(frozen=True)
class LockoutState:
    failures: int = 0
    window_started_at: datetime | None = None
    locked_until: datetime | None = None

    def is_locked(self, now: datetime) -> bool:
        return self.locked_until is not None and self.locked_until > now

    def expires_at(self, policy: LockoutPolicy) -> datetime | None:
        """When nothing of this state matters any more (the window and the lock are both over)."""
        ends = [t for t in (self.locked_until,) if t is not None]
        if self.window_started_at is not None:
            ends.append(self.window_started_at + policy.window)
        return max(ends) if ends else None


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


def lockout_key(username: str) -> str:
    """The counter's key: the username without surrounding blanks, lower case, at most 254 characters."""
    return username.strip().lower()[:MAX_KEY_LENGTH]


def _to_epoch(moment: datetime | None) -> float | None:
    return None if moment is None else moment.timestamp()


def _from_epoch(value) -> datetime | None:
    if value in (None, b"", ""):
        return None
    return datetime.fromtimestamp(float(value), tz=UTC)


class LockoutStore(Protocol):
    def state(self, key: str) -> LockoutState: ...

    def record_failure(self, key: str, *, now: datetime, policy: LockoutPolicy) -> LockoutState: ...

    def clear(self, key: str, *, now: datetime) -> bool: ...


class RedisLockoutStore:
    """`client` is a redis-py client (sync); `prefix` separates deployments (and test runs) on one Redis."""

    def __init__(self, client, *, prefix: str = DEFAULT_PREFIX) -> None:
        self.client = client
        self.prefix = prefix

    def _name(self, key: str) -> str:
        return self.prefix + lockout_key(key)

    @staticmethod
    def _decode(fields: dict) -> LockoutState:
        if not fields:
            return LockoutState()
        return LockoutState(
            failures=int(fields.get(b"failures", 0)),
            window_started_at=_from_epoch(fields.get(b"window_started_at")),
            locked_until=_from_epoch(fields.get(b"locked_until")),
        )

    def state(self, key: str) -> LockoutState:
        return self._decode(self.client.hgetall(self._name(key)))

    def record_failure(self, key: str, *, now: datetime, policy: LockoutPolicy) -> LockoutState:
        name = self._name(key)
        result: list[LockoutState] = []

        def count(pipe) -> None:
            state = next_state_after_failure(self._decode(pipe.hgetall(name)), now=now, policy=policy)
            pipe.multi()
            pipe.hset(
                name,
                mapping={
                    "failures": state.failures,
                    "window_started_at": _to_epoch(state.window_started_at) or "",
                    "locked_until": _to_epoch(state.locked_until) or "",
                },
            )
            pipe.expireat(name, int(state.expires_at(policy).timestamp()) + 1)
            result[:] = [state]

        self.client.transaction(count, name)
        return result[0]

    def clear(self, key: str, *, now: datetime) -> bool:
        name = self._name(key)
        with self.client.pipeline() as pipe:
            pipe.hgetall(name)
            pipe.delete(name)
            fields, _ = pipe.execute()
        return self._decode(fields).is_locked(now)


class SqliteLockoutStore:
    """One SQLite file every process of the machine opens; each call is its own short transaction."""

    _SCHEMA = (
        "CREATE TABLE IF NOT EXISTS lockout (key TEXT PRIMARY KEY, failures INTEGER NOT NULL, "
        "window_started_at REAL, locked_until REAL, expires_at REAL NOT NULL)"
    )

    def __init__(self, path: str | Path, *, timeout: float = 5.0) -> None:
        self.path = Path(path)
        self.timeout = timeout
        self._local = threading.local()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connection() as db:
            db.execute(self._SCHEMA)

    def _connection(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            self._local.db = db
        return db

    @staticmethod
    def _decode(row) -> LockoutState:
        if row is None:
            return LockoutState()
        return LockoutState(row[0], _from_epoch(row[1]), _from_epoch(row[2]))

    def _read(self, db: sqlite3.Connection, key: str) -> LockoutState:
        row = db.execute(
            "SELECT failures, window_started_at, locked_until FROM lockout WHERE key = ?", (lockout_key(key),)
        ).fetchone()
        return self._decode(row)

    def state(self, key: str) -> LockoutState:
        return self._read(self._connection(), key)

    def record_failure(self, key: str, *, now: datetime, policy: LockoutPolicy) -> LockoutState:
        db = self._connection()
        db.execute("BEGIN IMMEDIATE")  # the write lock first: concurrent failures count one after another
        try:
            db.execute("DELETE FROM lockout WHERE expires_at < ?", (now.timestamp(),))
            state = next_state_after_failure(self._read(db, key), now=now, policy=policy)
            db.execute(
                "INSERT OR REPLACE INTO lockout VALUES (?, ?, ?, ?, ?)",
                (
                    lockout_key(key),
                    state.failures,
                    _to_epoch(state.window_started_at),
                    _to_epoch(state.locked_until),
                    state.expires_at(policy).timestamp(),
                ),
            )
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        return state

    def clear(self, key: str, *, now: datetime) -> bool:
        db = self._connection()
        db.execute("BEGIN IMMEDIATE")
        try:
            was = self._read(db, key)
            db.execute("DELETE FROM lockout WHERE key = ?", (lockout_key(key),))
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        return was.is_locked(now)
