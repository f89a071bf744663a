"""Velocity counters under concurrency, on the real Redis and on the database adapter."""

from __future__ import annotations

import threading
import uuid

import pytest
from django.db import close_old_connections

from extracted.payment_service import velocity
from extracted.payment_service.velocity import DatabaseVelocity, RedisVelocity

ATTEMPTS = 12


def _concurrently(record, n: int) -> list:
    barrier = threading.Barrier(n)
    counts, errors = [], []

    def one(index: int) -> None:
        try:
            barrier.wait()
            counts.append(record(f"attempt-{index}"))
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            close_old_connections()

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    return counts


def test_concurrent_attempts_of_one_user_each_see_a_different_count_on_redis(redis_url):
    store = RedisVelocity(redis_url, f"test-velocity-{uuid.uuid4().hex}")
    try:
        counts = _concurrently(
            lambda attempt: store.record(user_id=1, card="fp1", attempt=attempt, window=3600, shadow=False),
            ATTEMPTS,
        )
        assert sorted(c.user_attempts for c in counts) == list(range(ATTEMPTS))
        assert sorted(c.card_attempts for c in counts) == list(range(ATTEMPTS))
    finally:
        store.client.delete(*store.client.keys(f"{store.prefix}*"))


@pytest.mark.django_db(transaction=True)
def test_concurrent_attempts_of_one_user_each_see_a_different_count_in_the_database():
    store = DatabaseVelocity()
    counts = _concurrently(
        lambda attempt: store.record(user_id=2, card="fp2", attempt=attempt, window=3600, shadow=False), 6
    )
    assert sorted(c.user_attempts for c in counts) == list(range(6))


def test_a_retried_attempt_is_not_counted_twice(redis_url):
    store = RedisVelocity(redis_url, f"test-velocity-{uuid.uuid4().hex}")
    try:
        store.record(user_id=3, card="a", attempt="p1", window=3600, shadow=False)
        again = store.record(user_id=3, card="a", attempt="p1", window=3600, shadow=False)
        assert again.user_attempts == 0
        assert again.card_attempts == 0
        other_card = store.record(user_id=3, card="b", attempt="p2", window=3600, shadow=False)
        assert other_card.user_attempts == 1
        assert other_card.user_other_cards == 1
        store.record_decline(card="b", attempt="p2", window=3600, shadow=False)
        third = store.record(user_id=3, card="b", attempt="p3", window=3600, shadow=False)
        assert (third.card_attempts, third.card_declines, third.user_other_cards) == (1, 1, 1)
    finally:
        store.client.delete(*store.client.keys(f"{store.prefix}*"))


def test_shadow_attempts_count_apart_from_real_ones(redis_url):
    store = RedisVelocity(redis_url, f"test-velocity-{uuid.uuid4().hex}")
    try:
        for n in range(3):
            store.record(user_id=4, card="c", attempt=f"shadow-{n}", window=3600, shadow=True)
        real = store.record(user_id=4, card="c", attempt="real-1", window=3600, shadow=False)
        shadow = store.record(user_id=4, card="c", attempt="shadow-3", window=3600, shadow=True)
        assert real.user_attempts == 0
        assert shadow.user_attempts == 3
    finally:
        store.client.delete(*store.client.keys(f"{store.prefix}*"))


def test_attempts_older_than_the_window_no_longer_count(redis_url):
    store = RedisVelocity(redis_url, f"test-velocity-{uuid.uuid4().hex}")
    try:
        store.record(user_id=5, card="d", attempt="old", window=3600, shadow=False)
        store.client.zadd(f"{store.prefix}:u:5", {"old": 1.0})  # an attempt long ago
        assert store.record(user_id=5, card="d", attempt="new", window=3600, shadow=False).user_attempts == 0
    finally:
        store.client.delete(*store.client.keys(f"{store.prefix}*"))


def test_the_service_uses_redis_when_redis_url_is_set(settings, redis_url):
    settings.REDIS_URL = redis_url
    velocity._store.cache_clear()
    assert isinstance(velocity.velocity_store(), RedisVelocity)
    settings.REDIS_URL = ""
    velocity._store.cache_clear()
    assert isinstance(velocity.velocity_store(), DatabaseVelocity)
