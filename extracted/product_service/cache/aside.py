"""The cache-aside itself (`ReadCache`): generation and token keys, the stampede lock, and stepping
aside while Redis fails. The keys and their rules are in the package docstring."""

from __future__ import annotations

import hashlib
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable

import redis

from chassis.metrics import counter, gauge

from .backends import CacheBackend

log = logging.getLogger(__name__)

LOOKUPS = counter(
    "product_cache_lookups_total", "Product cache lookups by namespace and result", ["namespace", "result"]
)
RECOMPUTES = counter("product_cache_recomputes_total", "Values computed on a cache miss", ["namespace"])
ERRORS = counter("product_cache_errors_total", "Cache backend errors (the read went uncached)", ["namespace"])
HIT_RATIO = gauge(
    "product_cache_hit_ratio", "Hits / lookups since the process started", ["namespace"], mode="max"
)

POINTER_TTL_FACTOR = 4  # a product's token outlives its document: writers refresh it anyway


class ReadCache:
    """The cache-aside. `compute` callables return bytes; exceptions they raise pass through uncached."""

    def __init__(
        self,
        backend: CacheBackend,
        *,
        prefix: str,
        ttl_seconds: int = 300,
        enabled: bool = True,
        lock_ms: int = 5000,
        wait_seconds: float = 2.0,
        poll_seconds: float = 0.01,
        down_seconds: float = 3.0,
    ):
        self.backend = backend
        self.prefix = prefix
        self.ttl_ms = ttl_seconds * 1000
        self.enabled = enabled
        self.lock_ms = lock_ms
        self.wait_seconds = wait_seconds
        self.poll_seconds = poll_seconds
        self.down_seconds = down_seconds
        self._down_until = 0.0
        self._counts: dict[str, list[int]] = {}  # namespace -> [hits, lookups], for the ratio gauge
        self._counts_lock = threading.Lock()
        self._pending: dict[int, int | str] = {}  # invalidations Redis missed, retried first thing
        self._pending_generation = False

    # --- reads ----------------------------------------------------------------------------------

    def listing(self, namespace: str, request_key: str, compute: Callable[[], bytes]) -> bytes:
        """A listing/search page, cached for the current listing generation."""
        if not self._usable():
            return self._bypass(namespace, compute)
        digest = hashlib.sha256(request_key.encode()).hexdigest()[:32]
        try:
            generation, value = self.backend.get_through(
                self._key("gen"), self._key(f"list:{namespace}:"), f":{digest}", b"0"
            )
        except redis.RedisError as exc:
            return self._failed(namespace, exc, compute)
        if value is not None:
            self._count(namespace, hit=True)
            return value
        key = self._key(f"list:{namespace}:{int(generation or 0)}:{digest}")
        return self._get_or_compute(namespace, key, compute, known_miss=True)

    def product(self, product_id: int, compute: Callable[[], bytes]) -> bytes:
        """A product document (bytes), cached under its current token."""
        namespace = "product"
        if not self._usable():
            return self._bypass(namespace, compute)
        pointer = self._key(f"pv:{product_id}")
        head = self._key(f"p:{product_id}:")
        try:
            if not getattr(self.backend, "shared", True):
                # Process-local values: other processes' writes reach us only through the generation.
                generation, value = self.backend.get_through(self._key("gen"), f"{head}g", "", b"0")
                token = b"g" + (generation or b"0")
            else:
                token, value = self.backend.get_through(pointer, head, "", None)
            if value is not None:
                self._count(namespace, hit=True)
                return value
            known_miss = token is not None  # the lookup above read exactly that key
            if token is None:
                generation = self.backend.get(self._key("gen"))
                # No token since the last one expired: readers agree on one (SET NX) before reading the
                # store; a writer's later token (`<version>.<gen>`) replaces it.
                self.backend.set_nx(
                    pointer, f"r.{int(generation or 0)}".encode(), self.ttl_ms * POINTER_TTL_FACTOR
                )
                token = self.backend.get(pointer) or b"r"
        except redis.RedisError as exc:
            return self._failed(namespace, exc, compute)
        return self._get_or_compute(namespace, f"{head}{token.decode()}", compute, known_miss=known_miss)

    # --- writes ---------------------------------------------------------------------------------

    def invalidate(self, versions: Iterable[tuple[int, int | str]] = ()) -> None:
        """After a committed write or stock change: new listing generation, fresh tokens for the products
        `(id, version)` touched. When Redis fails, the invalidation is kept and retried with this process's
        next cache operation (the TTL bounds what another process may still serve)."""
        if not self.enabled:
            return
        with self._counts_lock:
            wanted = {**self._pending, **dict(versions)}
            self._pending, self._pending_generation = {}, False
        try:
            generation = self.backend.incr(self._key("gen"))
            tokens = {
                self._key(f"pv:{pid}"): f"{version}.{generation}".encode() for pid, version in wanted.items()
            }
            if tokens:
                # Only products someone reads have a token; the others get theirs from the next reader
                # (after this commit), so a backfill of 100k products leaves no 100k keys behind.
                self.backend.set_many(tokens, self.ttl_ms * POINTER_TTL_FACTOR, only_existing=True)
        except redis.RedisError as exc:
            with self._counts_lock:
                self._pending = {**wanted, **self._pending}
                self._pending_generation = True
            self._trip("invalidate", exc)

    # --- the machinery --------------------------------------------------------------------------

    def _key(self, suffix: str) -> str:
        return f"{self.prefix}:{suffix}"

    def _usable(self) -> bool:
        if not self.enabled or time.monotonic() < self._down_until:
            return False
        if self._pending_generation:  # an invalidation failed while Redis was away: it goes first
            self.invalidate()
        return time.monotonic() >= self._down_until

    def _bypass(self, namespace: str, compute: Callable[[], bytes]) -> bytes:
        LOOKUPS.labels(namespace, "bypass").inc()
        return compute()

    def _trip(self, namespace: str, exc: Exception) -> None:
        ERRORS.labels(namespace).inc()
        if time.monotonic() >= self._down_until:
            log.warning("product cache unavailable for %ss: %r", self.down_seconds, exc)
        self._down_until = time.monotonic() + self.down_seconds

    def _failed(self, namespace: str, exc: Exception, compute: Callable[[], bytes]) -> bytes:
        self._trip(namespace, exc)
        return self._bypass(namespace, compute)

    def _count(self, namespace: str, *, hit: bool) -> None:
        LOOKUPS.labels(namespace, "hit" if hit else "miss").inc()
        with self._counts_lock:
            counts = self._counts.setdefault(namespace, [0, 0])
            counts[0] += int(hit)
            counts[1] += 1
            HIT_RATIO.labels(namespace).set(counts[0] / counts[1])

    def _get_or_compute(
        self, namespace: str, key: str, compute: Callable[[], bytes], *, known_miss: bool = False
    ) -> bytes:
        try:
            value = None if known_miss else self.backend.get(key)
            if value is not None:
                self._count(namespace, hit=True)
                return value
            self._count(namespace, hit=False)
            lock_key, token = f"{key}:lock", uuid.uuid4().hex.encode()
            if not self.backend.set_nx(lock_key, token, self.lock_ms):
                value = self._wait_for(key, lock_key)
                if value is not None:
                    return value
        except redis.RedisError as exc:
            return self._failed(namespace, exc, compute)
        # We hold the lock, or its holder did not deliver in time: compute (once per key in the normal case).
        RECOMPUTES.labels(namespace).inc()
        try:
            value = compute()
            self._store(namespace, key, value)
        finally:
            self._unlock(namespace, lock_key, token)
        return value

    def _store(self, namespace: str, key: str, value: bytes) -> None:
        try:
            self.backend.set(key, value, self.ttl_ms)
        except redis.RedisError as exc:
            self._trip(namespace, exc)

    def _unlock(self, namespace: str, lock_key: str, token: bytes) -> None:
        if not self._usable():
            return
        try:
            if self.backend.get(lock_key) == token:
                self.backend.delete(lock_key)
        except redis.RedisError as exc:
            self._trip(namespace, exc)

    def _wait_for(self, key: str, lock_key: str) -> bytes | None:
        """Poll for the lock holder's value; None when it is not there within wait_seconds or the holder
        gave up (lock gone, no value)."""
        deadline = time.monotonic() + self.wait_seconds
        while time.monotonic() < deadline:
            time.sleep(self.poll_seconds)
            value, lock = self.backend.get_many([key, lock_key])
            if value is not None:
                return value
            if lock is None:
                return None
        return None
