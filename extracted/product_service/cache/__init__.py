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

from pathlib import Path

from django.conf import settings

from .aside import ReadCache
from .backends import CacheBackend, LocalBackend, RedisBackend

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


__all__ = ["CacheBackend", "LocalBackend", "ReadCache", "RedisBackend", "read_cache", "reset_read_cache"]
