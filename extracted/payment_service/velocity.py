"""Velocity counters for antifraud: attempts per user and per card, declines per card, distinct cards per
user, over a sliding window. One port, two adapters: Redis (REDIS_URL; what the services profile runs)
and the service's database (the embedded profile).

`velocity_record` counts what happened before an attempt AND records it, atomically (one Lua script on
Redis; one locked transaction on the database), so N concurrent attempts of one user see 0..N-1 earlier
attempts, never the same count twice. Members are attempt ids (the payment's idempotency key), so a
retried task records nothing twice. Shadow requests count in their own namespace (`shadow=True`): they
see the same history a real request would (the mirrored traffic) without changing real counters.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from functools import cache

from django.conf import settings
from django.db import connection, transaction


@dataclass(frozen=True)
class Velocity:
    user_attempts: int = 0
    card_attempts: int = 0
    card_declines: int = 0
    user_other_cards: int = 0


# KEYS: user attempts, card attempts, card declines, user cards (zsets scored by time)
# ARGV: now, window seconds, attempt id, card fingerprint ("" = unknown card)
_RECORD = """
local now, window, attempt, card = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3], ARGV[4]
local floor = now - window
for i = 1, 4 do redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', floor) end
local function others(key, member)
  local n = redis.call('ZCARD', key)
  if redis.call('ZSCORE', key, member) then n = n - 1 end
  return n
end
local user_attempts = others(KEYS[1], attempt)
local card_attempts, declines, other_cards = 0, 0, 0
if card ~= '' then
  card_attempts = others(KEYS[2], attempt)
  declines = redis.call('ZCARD', KEYS[3])
  other_cards = others(KEYS[4], card)
else
  other_cards = redis.call('ZCARD', KEYS[4])
end
redis.call('ZADD', KEYS[1], 'NX', now, attempt)
if card ~= '' then
  redis.call('ZADD', KEYS[2], 'NX', now, attempt)
  redis.call('ZADD', KEYS[4], now, card)
end
for i = 1, 4 do redis.call('EXPIRE', KEYS[i], window + 60) end
return {user_attempts, card_attempts, declines, other_cards}
"""


def _keys(prefix: str, user_id: int, card: str) -> list[str]:
    card = card or "-"
    return [f"{prefix}:u:{user_id}", f"{prefix}:c:{card}", f"{prefix}:d:{card}", f"{prefix}:uc:{user_id}"]


class RedisVelocity:
    def __init__(self, url: str, prefix: str):
        import redis

        self.client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self.prefix = prefix
        self._record = self.client.register_script(_RECORD)

    def record(self, *, user_id: int, card: str, attempt: str, window: int, shadow: bool) -> Velocity:
        prefix = f"{self.prefix}:shadow" if shadow else self.prefix
        counts = self._record(keys=_keys(prefix, user_id, card), args=[time.time(), window, attempt, card])
        return Velocity(*(int(n) for n in counts))

    def record_decline(self, *, card: str, attempt: str, window: int, shadow: bool) -> None:
        if not card:
            return
        prefix = f"{self.prefix}:shadow" if shadow else self.prefix
        key = _keys(prefix, 0, card)[2]
        with self.client.pipeline() as pipe:
            pipe.zadd(key, {attempt: time.time()}, nx=True)
            pipe.expire(key, window + 60)
            pipe.execute()


class DatabaseVelocity:
    """The same counts from VelocityMark rows; one user's attempts are serialised by a lock (PostgreSQL:
    a transaction-scoped advisory lock; SQLite serialises writers itself)."""

    def record(self, *, user_id: int, card: str, attempt: str, window: int, shadow: bool) -> Velocity:
        from .models import VelocityMark

        ns = "s:" if shadow else ""
        now = time.time()
        floor = now - window
        user, cards = f"{ns}u:{user_id}", f"{ns}uc:{user_id}"
        with transaction.atomic():
            if connection.vendor == "postgresql":
                lock = int.from_bytes(hashlib.sha256(user.encode()).digest()[:8], "big", signed=True)
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_xact_lock(%s)", [lock])
            marks = VelocityMark.objects.filter(at__gt=floor)
            counts = Velocity(
                user_attempts=marks.filter(scope=user).exclude(member=attempt).count(),
                card_attempts=marks.filter(scope=f"{ns}c:{card}").exclude(member=attempt).count()
                if card
                else 0,
                card_declines=marks.filter(scope=f"{ns}d:{card}").count() if card else 0,
                user_other_cards=marks.filter(scope=cards).exclude(member=card).count(),
            )
            VelocityMark.objects.get_or_create(scope=user, member=attempt, defaults={"at": now})
            if card:
                VelocityMark.objects.get_or_create(
                    scope=f"{ns}c:{card}", member=attempt, defaults={"at": now}
                )
                VelocityMark.objects.update_or_create(scope=cards, member=card, defaults={"at": now})
        return counts

    def record_decline(self, *, card: str, attempt: str, window: int, shadow: bool) -> None:
        from .models import VelocityMark

        if card:
            ns = "s:" if shadow else ""
            VelocityMark.objects.get_or_create(
                scope=f"{ns}d:{card}", member=attempt, defaults={"at": time.time()}
            )


@cache
def _store(url: str, prefix: str) -> RedisVelocity | DatabaseVelocity:
    return RedisVelocity(url, prefix) if url else DatabaseVelocity()


def velocity_store() -> RedisVelocity | DatabaseVelocity:
    return _store(settings.REDIS_URL, settings.PAYMENT_VELOCITY_PREFIX)


def velocity_record(*, user_id: int, card: str, attempt: str, shadow: bool = False) -> Velocity:
    """What this user and card did in the window before this attempt; the attempt is recorded."""
    return velocity_store().record(
        user_id=user_id,
        card=card,
        attempt=attempt,
        window=settings.PAYMENT_FRAUD_VELOCITY_WINDOW_SECONDS,
        shadow=shadow,
    )


def velocity_record_decline(*, card: str, attempt: str, shadow: bool = False) -> None:
    velocity_store().record_decline(
        card=card, attempt=attempt, window=settings.PAYMENT_FRAUD_VELOCITY_WINDOW_SECONDS, shadow=shadow
    )
