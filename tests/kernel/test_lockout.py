"""kernel.lockout's stores, one contract for both: real Redis (REDIS_URL) and a SQLite file shared by
processes. The rule itself is tested with tables in tests/extracted/auth_service/test_lockout.py."""

import multiprocessing
import os
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
import redis

from kernel.lockout import LockoutPolicy, RedisLockoutStore, SqliteLockoutStore, lockout_key

REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
POLICY = LockoutPolicy.of_seconds(threshold=3, window=600, lock_for=900)
T0 = datetime.now(UTC).replace(microsecond=0)  # Redis expires keys by the wall clock


@pytest.fixture
def redis_client():
    client = redis.Redis.from_url(REDIS_URL)
    yield client
    client.close()


@pytest.fixture(params=["redis", "sqlite"])
def make_store(request, tmp_path):
    """`make_store()` -> a store; every call of one test opens the same counters (another process's view)."""
    prefix = f"strangler:lockout:test-{uuid.uuid4().hex}:"
    path = tmp_path / "lockout.sqlite3"
    if request.param == "redis":
        client = redis.Redis.from_url(REDIS_URL)
        yield lambda: RedisLockoutStore(client, prefix=prefix)
        client.close()
    else:
        yield lambda: SqliteLockoutStore(path)


def test_the_threshold_th_failure_within_the_window_locks_until_the_lock_time(make_store):
    store = make_store()
    states = [store.record_failure("alice", now=T0 + timedelta(minutes=m), policy=POLICY) for m in (0, 1, 2)]
    assert [s.failures for s in states] == [1, 2, 3]
    assert [s.locked_until for s in states] == [None, None, T0 + timedelta(minutes=17)]
    assert store.state("alice").is_locked(T0 + timedelta(minutes=16))
    assert not store.state("alice").is_locked(T0 + timedelta(minutes=17))


def test_two_stores_on_one_backend_count_into_one_counter_by_normalised_username(make_store):
    monolith, auth = make_store(), make_store()
    monolith.record_failure("Alice", now=T0, policy=POLICY)
    monolith.record_failure(" alice", now=T0, policy=POLICY)
    assert auth.record_failure("ALICE ", now=T0, policy=POLICY).is_locked(T0)
    assert monolith.state("alice").is_locked(T0)
    assert not auth.state("bob").is_locked(T0)


def test_clear_forgets_the_count_and_says_whether_a_lock_was_lifted(make_store):
    store, other = make_store(), make_store()
    for _ in range(3):
        store.record_failure("carol", now=T0, policy=POLICY)
    assert other.clear("carol", now=T0) is True
    assert store.state("carol").failures == 0
    store.record_failure("carol", now=T0, policy=POLICY)
    assert store.clear("carol", now=T0) is False
    assert store.clear("never-seen", now=T0) is False


def test_concurrent_failures_count_exactly(make_store):
    policy = LockoutPolicy.of_seconds(threshold=1000, window=600, lock_for=900)
    stores = [make_store() for _ in range(8)]

    def fail(n):
        return stores[n % 8].record_failure("dave", now=T0, policy=policy).failures

    with ThreadPoolExecutor(8) as pool:
        counts = sorted(pool.map(fail, range(200)))
    assert counts == list(range(1, 201))  # every failure saw its own count: none lost, none doubled
    assert stores[0].state("dave").failures == 200


def _fail_in_a_process(path: str, times: int) -> None:
    store = SqliteLockoutStore(path)
    for _ in range(times):
        store.record_failure("erin", now=datetime.now(UTC), policy=LockoutPolicy.of_seconds(
            threshold=1000, window=600, lock_for=900
        ))  # fmt: skip


def test_the_sqlite_file_is_one_counter_for_several_processes(tmp_path):
    path = str(tmp_path / "lockout.sqlite3")
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_fail_in_a_process, args=(path, 25)) for _ in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    assert SqliteLockoutStore(path).state("erin").failures == 75


def test_redis_keys_expire_when_neither_the_window_nor_the_lock_needs_them(redis_client):
    prefix = f"strangler:lockout:test-{uuid.uuid4().hex}:"
    store = RedisLockoutStore(redis_client, prefix=prefix)
    now = datetime.now(UTC)
    store.record_failure("frank", now=now, policy=POLICY)
    assert 590 <= redis_client.ttl(prefix + "frank") <= 601  # the window's end
    for _ in range(2):
        store.record_failure("frank", now=now, policy=POLICY)
    assert 890 <= redis_client.ttl(prefix + "frank") <= 901  # the lock's end


def test_an_expired_sqlite_row_is_pruned_on_the_next_write(tmp_path):
    store = SqliteLockoutStore(tmp_path / "lockout.sqlite3")
    store.record_failure("gina", now=T0, policy=POLICY)
    store.record_failure("hank", now=T0 + timedelta(hours=1), policy=POLICY)
    assert store.state("gina").failures == 0


@pytest.mark.parametrize(
    ("typed", "key"),
    [("Alice", "alice"), ("  bob@Example.COM ", "bob@example.com"), ("x" * 300, "x" * 254)],
)
def test_the_key_is_the_trimmed_lower_case_username(typed, key):
    assert lockout_key(typed) == key
