"""Cache-aside for product reads: product detail documents and listing/search pages.

Keys (all under PRODUCT_CACHE_PREFIX):
- `gen`: the listing generation, INCR'd after every write and every stock change; a listing page is cached
  under `list:<namespace>:<gen>:<hash of the request URL>`, so any write makes every cached page unreachable.
- `pv:<id>`: the product's current cache token; its document is cached under `p:<id>:<token>`. After
  their commit, writers replace an existing token with `<version>.<gen>` (SET XX); a reader finding none
  sets one (SET NX) before it reads the store. Either way a reader racing a writer can only fill a key
  nobody will read again.
Every value also carries a TTL. A miss is recomputed once per key under a stampede: the first reader takes
`<key>:lock` (SET NX PX) and recomputes, the others poll for its value for a bounded time, then compute
themselves. When Redis fails, the cache steps aside for a few seconds (reads go straight to the store,
never a 5xx). Without REDIS_URL an in-process dictionary stands in for Redis (LocalBackend), with the
generation in a file under var/ so every process sees every write.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Protocol

import redis
from django.conf import settings

from chassis.metrics import counter, gauge

log = logging.getLogger(__name__)

LOOKUPS = counter(
    "product_cache_lookups_total", "Product cache lookups by namespace and result", ["namespace", "result"]
)
RECOMPUTES = counter("product_cache_recomputes_total", "Values computed on a cache miss", ["namespace"])
ERRORS = counter("product_cache_errors_total", "Cache backend errors (the read went uncached)", ["namespace"])
HIT_RATIO = gauge(
    "product_cache_hit_ratio", "Hits / lookups since the process started", ["namespace"], mode="max"
)

REDIS_TIMEOUT_SECONDS = 0.25
POINTER_TTL_FACTOR = 4  # a product's token outlives its document: writers refresh it anyway
COUNTER_SUFFIX = ":gen"  # keys the local backend keeps in files (shared by processes)


class CacheBackend(Protocol):
    def get(self, key: str) -> bytes | None: ...
    def get_many(self, keys: list[str]) -> list[bytes | None]: ...
    def get_through(
        self, pointer: str, head: str, tail: str, default: bytes | None
    ) -> tuple[bytes | None, bytes | None]: ...
    def set(self, key: str, value: bytes, ttl_ms: int) -> None: ...
    def set_many(self, items: dict[str, bytes], ttl_ms: int, *, only_existing: bool = False) -> None: ...
    def set_nx(self, key: str, value: bytes, ttl_ms: int) -> bool: ...
    def incr(self, key: str) -> int: ...
    def delete(self, key: str) -> None: ...


# One round trip for a cache hit: read the pointer (generation or product token), then the value it names.
GET_THROUGH_LUA = """
local pointer = redis.call('GET', KEYS[1])
if not pointer then
  if ARGV[3] == '' then return {false, false} end
  pointer = ARGV[3]
end
return {pointer, redis.call('GET', ARGV[1] .. pointer .. ARGV[2])}
"""


class RedisBackend:
    """redis-py with short timeouts: a slow or dead Redis must not hold a request for long."""

    shared = True

    def __init__(self, url: str, timeout: float = REDIS_TIMEOUT_SECONDS):
        self.client = redis.Redis.from_url(
            url, socket_timeout=timeout, socket_connect_timeout=timeout, retry_on_timeout=False
        )
        self._get_through = self.client.register_script(GET_THROUGH_LUA)

    def get_through(
        self, pointer: str, head: str, tail: str, default: bytes | None
    ) -> tuple[bytes | None, bytes | None]:
        """(pointer value or `default`, the value at head + pointer + tail); (None, None) without either."""
        found, value = self._get_through(keys=[pointer], args=[head, tail, default or b""])
        return found, value

    def get(self, key: str) -> bytes | None:
        return self.client.get(key)

    def get_many(self, keys: list[str]) -> list[bytes | None]:
        return self.client.mget(keys)

    def set(self, key: str, value: bytes, ttl_ms: int) -> None:
        self.client.set(key, value, px=ttl_ms)

    def set_many(self, items: dict[str, bytes], ttl_ms: int, *, only_existing: bool = False) -> None:
        pipe = self.client.pipeline(transaction=False)
        for key, value in items.items():
            pipe.set(key, value, px=ttl_ms, xx=only_existing)
        pipe.execute()

    def set_nx(self, key: str, value: bytes, ttl_ms: int) -> bool:
        return bool(self.client.set(key, value, nx=True, px=ttl_ms))

    def incr(self, key: str) -> int:
        return int(self.client.incr(key))

    def delete(self, key: str) -> None:
        self.client.delete(key)


class LocalBackend:
    """The embedded profile's stand-in for Redis: values in one process's dictionary, the counters (the
    listing generation) in files under `counter_dir`, so a write in one process (a gunicorn worker, a
    consumer) is seen by every other. Values are not shared (`shared = False`): the cache then keys product
    documents by the generation too, so any write invalidates them everywhere."""

    shared = False

    def __init__(self, clock: Callable[[], float] = time.monotonic, *, counter_dir: Path | None = None):
        self._data: dict[str, tuple[float | None, bytes]] = {}
        self._lock = threading.Lock()
        self._clock = clock
        self._counter_dir = counter_dir

    def _counter_path(self, key: str) -> Path | None:
        if self._counter_dir is None or not key.endswith(COUNTER_SUFFIX):
            return None
        return self._counter_dir / f"{hashlib.sha256(key.encode()).hexdigest()[:24]}.counter"

    def _read_counter(self, path: Path) -> bytes | None:
        try:
            return path.read_bytes() or None
        except FileNotFoundError:
            return None

    def _live(self, key: str) -> bytes | None:
        entry = self._data.get(key)
        if entry is None:
            return None
        expires, value = entry
        if expires is not None and expires <= self._clock():
            del self._data[key]
            return None
        return value

    def get(self, key: str) -> bytes | None:
        return self.get_many([key])[0]

    def get_through(
        self, pointer: str, head: str, tail: str, default: bytes | None
    ) -> tuple[bytes | None, bytes | None]:
        found = self.get(pointer) or default
        if found is None:
            return None, None
        return found, self.get(f"{head}{found.decode()}{tail}")

    def get_many(self, keys: list[str]) -> list[bytes | None]:
        with self._lock:
            return [
                self._read_counter(path) if (path := self._counter_path(key)) else self._live(key)
                for key in keys
            ]

    def set(self, key: str, value: bytes, ttl_ms: int) -> None:
        with self._lock:
            self._data[key] = (self._clock() + ttl_ms / 1000, value)

    def set_many(self, items: dict[str, bytes], ttl_ms: int, *, only_existing: bool = False) -> None:
        for key, value in items.items():
            if not only_existing or self.get(key) is not None:
                self.set(key, value, ttl_ms)

    def set_nx(self, key: str, value: bytes, ttl_ms: int) -> bool:
        with self._lock:
            if self._live(key) is not None:
                return False
            self._data[key] = (self._clock() + ttl_ms / 1000, value)
            return True

    def incr(self, key: str) -> int:
        path = self._counter_path(key)
        if path is None:
            with self._lock:
                value = int(self._live(key) or 0) + 1
                self._data[key] = (None, str(value).encode())
                return value
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a+b") as handle:  # one writer at a time, across processes
            fcntl.flock(handle, fcntl.LOCK_EX)
            handle.seek(0)
            value = int(handle.read() or 0) + 1
            handle.seek(0)
            handle.truncate()
            handle.write(str(value).encode())
            handle.flush()
            return value

    def delete(self, key: str) -> None:
        with self._lock:
            self._data.pop(key, None)


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


_cache: ReadCache | None = None


def read_cache() -> ReadCache:
    """The process's cache, built from settings on first use (a race builds two; one is kept)."""
    global _cache
    if _cache is None:
        backend = (
            RedisBackend(settings.REDIS_URL)
            if settings.REDIS_URL
            else LocalBackend(counter_dir=Path(settings.VAR_DIR) / "product-cache")
        )
        _cache = ReadCache(
            backend,
            prefix=settings.PRODUCT_CACHE_PREFIX,
            ttl_seconds=settings.PRODUCT_CACHE_TTL_SECONDS,
            enabled=settings.PRODUCT_CACHE_ENABLED,
        )
    return _cache


def reset_read_cache() -> None:
    """Forget the process's cache (tests that change settings)."""
    global _cache
    _cache = None
