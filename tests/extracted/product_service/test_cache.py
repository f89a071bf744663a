"""The read cache against a real Redis: hits, invalidation by writes, one recompute under a stampede, and
answers (uncached) while Redis is down."""

from __future__ import annotations

import threading
import time

import pytest
import redis
from prometheus_client import REGISTRY

from extracted.product_service.cache import LocalBackend, ReadCache, RedisBackend
from legacy_monolith.demo.processes import free_port


class Computations:
    """A compute function that counts its calls and returns a value derived from a mutable source."""

    def __init__(self, value: bytes = b"v1"):
        self.calls = 0
        self.value = value
        self._lock = threading.Lock()

    def __call__(self) -> bytes:
        with self._lock:
            self.calls += 1
        return self.value


def lookups(namespace: str, result: str) -> float:
    return (
        REGISTRY.get_sample_value("product_cache_lookups_total", {"namespace": namespace, "result": result})
        or 0.0
    )


def test_a_listing_is_computed_once_then_served_from_redis(redis_cache):
    compute = Computations()
    hits_before = lookups("v1", "hit")
    assert redis_cache.listing("v1", "/api/v1/catalog/products?page=2", compute) == b"v1"
    assert redis_cache.listing("v1", "/api/v1/catalog/products?page=2", compute) == b"v1"
    assert compute.calls == 1
    assert lookups("v1", "hit") == hits_before + 1


def test_a_write_makes_every_cached_listing_stale(redis_cache):
    compute = Computations()
    redis_cache.listing("v1", "/products", compute)
    compute.value = b"v2"
    redis_cache.invalidate([(7, 2)])
    assert redis_cache.listing("v1", "/products", compute) == b"v2"
    assert compute.calls == 2


def test_a_product_write_replaces_its_cached_document_and_leaves_others_cached(redis_cache):
    seven, eight = Computations(b"seven-v1"), Computations(b"eight-v1")
    redis_cache.product(7, seven)
    redis_cache.product(8, eight)
    seven.value = b"seven-v2"
    redis_cache.invalidate([(7, 2)])
    assert redis_cache.product(7, seven) == b"seven-v2"
    assert redis_cache.product(8, eight) == b"eight-v1"
    assert (seven.calls, eight.calls) == (2, 1)
    token = redis_cache.backend.get(f"{redis_cache.prefix}:pv:7")
    assert token.startswith(b"2.")  # the product's version is part of its key


def test_a_write_to_products_nobody_read_leaves_no_keys_behind(redis_cache):
    redis_cache.invalidate([(product_id, 1) for product_id in range(1, 101)])
    pointers = [f"{redis_cache.prefix}:pv:{product_id}" for product_id in range(1, 101)]
    assert redis_cache.backend.client.exists(*pointers) == 0


def test_a_stock_change_replaces_the_cached_document_although_the_version_is_unchanged(redis_cache):
    compute = Computations(b"stock-5")
    redis_cache.product(7, compute)
    compute.value = b"stock-4"
    redis_cache.invalidate([(7, "stock")])
    assert redis_cache.product(7, compute) == b"stock-4"


def test_values_expire_with_their_ttl(redis_url, cache_prefix):
    short = ReadCache(RedisBackend(redis_url), prefix=cache_prefix, ttl_seconds=60)
    compute = Computations()
    short.listing("v1", "/x", compute)
    key = next(short.backend.client.scan_iter(f"{cache_prefix}:list:*", count=10_000))
    ttl_ms = short.backend.client.pttl(key)
    short.backend.client.delete(key)
    assert 0 < ttl_ms <= 60_000


def test_a_stampede_on_one_key_recomputes_it_once(redis_cache):
    started = threading.Event()
    release = threading.Event()
    calls = []

    def slow_compute() -> bytes:
        calls.append(1)
        started.set()
        release.wait(10)
        return b"page"

    misses_before = lookups("stampede", "miss")
    results: list[bytes] = []
    threads = [
        threading.Thread(target=lambda: results.append(redis_cache.listing("stampede", "/hot", slow_compute)))
        for _ in range(16)
    ]
    threads[0].start()
    assert started.wait(5)
    for thread in threads[1:]:
        thread.start()
    # Every reader has missed (and is now waiting on the lock holder) before the holder delivers.
    deadline = time.monotonic() + 10
    while lookups("stampede", "miss") < misses_before + 16 and time.monotonic() < deadline:
        time.sleep(0.005)
    release.set()
    for thread in threads:
        thread.join(10)
    assert lookups("stampede", "miss") == misses_before + 16
    assert results == [b"page"] * 16
    assert len(calls) == 1


def test_a_waiter_computes_itself_when_the_lock_holder_never_delivers(redis_cache):
    digest_key = None
    compute = Computations(b"fresh")
    redis_cache.listing("v1", "/warm", compute)  # learn the key layout from a real entry
    digest_key = next(redis_cache.backend.client.scan_iter(f"{redis_cache.prefix}:list:*", count=10_000))
    redis_cache.backend.client.delete(digest_key)
    redis_cache.backend.client.set(digest_key + b":lock", b"someone-else", px=60_000)
    redis_cache.wait_seconds = 0.2
    assert redis_cache.listing("v1", "/warm", compute) == b"fresh"
    assert compute.calls == 2


class CountingBackend:
    """The real Redis backend, counting the calls that reach it."""

    def __init__(self, backend):
        self.backend = backend
        self.calls = 0

    def __getattr__(self, name):
        method = getattr(self.backend, name)

        def counted(*args, **kwargs):
            self.calls += 1
            return method(*args, **kwargs)

        return counted


def test_with_redis_down_reads_are_answered_uncached_and_redis_is_left_alone_for_a_while():
    closed_port = free_port()  # nothing listens there
    backend = CountingBackend(RedisBackend(f"redis://127.0.0.1:{closed_port}/0"))
    down = ReadCache(backend, prefix="down", ttl_seconds=60, down_seconds=30)
    compute = Computations(b"from-the-store")
    errors_before = REGISTRY.get_sample_value("product_cache_errors_total", {"namespace": "v1"}) or 0.0

    assert down.listing("v1", "/products", compute) == b"from-the-store"
    assert down.product(5, compute) == b"from-the-store"
    assert down.listing("v1", "/products", compute) == b"from-the-store"
    assert compute.calls == 3
    assert backend.calls == 1  # only the first read tried Redis; the others short-circuited
    down.invalidate([(5, 2)])  # writers still try: a missed invalidation would outlive the outage
    assert backend.calls == 2
    assert REGISTRY.get_sample_value("product_cache_errors_total", {"namespace": "v1"}) == errors_before + 1


def test_reads_use_redis_again_once_the_down_period_is_over(redis_url, cache_prefix):
    cache = ReadCache(RedisBackend(redis_url), prefix=cache_prefix, ttl_seconds=60, down_seconds=30)
    cache._down_until = 0.0  # as after the down period
    compute = Computations()
    cache.listing("v1", "/again", compute)
    cache.listing("v1", "/again", compute)
    assert compute.calls == 1
    cache.backend.client.delete(*cache.backend.client.scan_iter(f"{cache_prefix}:*", count=10_000))


class FailingOnce:
    """The real Redis backend, except that its next `fail` INCRs raise like a dropped connection."""

    def __init__(self, backend, fail: int = 1):
        self.backend = backend
        self.fail = fail

    def __getattr__(self, name):
        return getattr(self.backend, name)

    def incr(self, key):
        if self.fail:
            self.fail -= 1
            raise redis.ConnectionError("connection dropped")
        return self.backend.incr(key)


def test_an_invalidation_redis_missed_is_applied_before_the_next_read(redis_url, cache_prefix):
    cache = ReadCache(FailingOnce(RedisBackend(redis_url)), prefix=cache_prefix, ttl_seconds=60)
    listing, product = Computations(b"page-v1"), Computations(b"doc-v1")
    cache.listing("v1", "/p", listing)
    cache.product(4, product)
    listing.value, product.value = b"page-v2", b"doc-v2"
    cache.invalidate([(4, 2)])  # Redis "drops" this one
    cache._down_until = 0.0  # as after the down period
    assert cache.listing("v1", "/p", listing) == b"page-v2"
    assert cache.product(4, product) == b"doc-v2"
    client = cache.backend.backend.client
    client.delete(*client.scan_iter(f"{cache_prefix}:*", count=10_000))


def test_without_redis_the_local_backend_caches_in_process(tmp_path):
    cache = ReadCache(LocalBackend(counter_dir=tmp_path), prefix="local", ttl_seconds=60)
    compute = Computations()
    cache.listing("v1", "/p", compute)
    cache.listing("v1", "/p", compute)
    cache.product(1, compute)
    cache.product(1, compute)
    assert compute.calls == 2


def test_without_redis_a_write_in_one_process_invalidates_the_others(tmp_path):
    """Two local backends sharing a counter folder stand for two gunicorn workers on one machine."""
    reader = ReadCache(LocalBackend(counter_dir=tmp_path), prefix="local", ttl_seconds=60)
    writer = ReadCache(LocalBackend(counter_dir=tmp_path), prefix="local", ttl_seconds=60)
    listing, product = Computations(b"page-v1"), Computations(b"doc-v1")
    reader.listing("v1", "/p", listing)
    reader.product(3, product)
    listing.value, product.value = b"page-v2", b"doc-v2"
    writer.invalidate([(3, 2)])
    assert reader.listing("v1", "/p", listing) == b"page-v2"
    assert reader.product(3, product) == b"doc-v2"


def test_a_disabled_cache_always_computes():
    cache = ReadCache(LocalBackend(), prefix="off", ttl_seconds=60, enabled=False)
    compute = Computations()
    cache.listing("v1", "/p", compute)
    cache.product(1, compute)
    assert compute.calls == 2


def test_an_error_while_computing_is_not_cached(redis_cache):
    def failing() -> bytes:
        raise LookupError("store said no")

    with pytest.raises(LookupError):
        redis_cache.listing("v1", "/fails", failing)
    assert redis_cache.listing("v1", "/fails", Computations(b"ok")) == b"ok"


def test_the_hit_ratio_is_exported():
    cache = ReadCache(LocalBackend(), prefix="ratio", ttl_seconds=60)
    compute = Computations()
    for _ in range(4):
        cache.listing("ratio-test", "/r", compute)
    assert REGISTRY.get_sample_value("product_cache_hit_ratio", {"namespace": "ratio-test"}) == 0.75


def test_a_cached_listing_or_product_costs_one_redis_round_trip(redis_url, cache_prefix):
    backend = CountingBackend(RedisBackend(redis_url))
    cache = ReadCache(backend, prefix=cache_prefix, ttl_seconds=60)
    compute = Computations()
    cache.listing("v1", "/one", compute)
    cache.product(9, compute)
    before = backend.calls
    cache.listing("v1", "/one", compute)
    cache.product(9, compute)
    assert (backend.calls - before, compute.calls) == (2, 2)
    client = backend.backend.client
    client.delete(*client.scan_iter(f"{cache_prefix}:*", count=10_000))
