"""Where the Product service's read cache keeps its values: Redis (one round trip per hit through a Lua
script that follows a pointer key), or, without REDIS_URL, one process's dictionary with the counters
in files under var/ so every process sees every write."""

from __future__ import annotations

import fcntl
import hashlib
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import redis

REDIS_TIMEOUT_SECONDS = 0.25
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
