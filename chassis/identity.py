"""Verifying the gateway's X-Strangler-Identity on a Django request: the request's own method, path, query
and body, and the replay guard every verifier shares (Redis at REDIS_URL; without it, this process's
memory). The monolith's authentication class and the services' all call `verify_request_identity`."""

from __future__ import annotations

from functools import cache

from django.conf import settings

from contracts.identity import InternalIdentity, ReplayGuard, verify_identity
from kernel.replay import MemoryReplayGuard, RedisReplayGuard


@cache
def replay_guard(redis_url: str) -> ReplayGuard:
    if not redis_url:
        return MemoryReplayGuard()
    import redis

    return RedisReplayGuard(redis.Redis.from_url(redis_url, socket_timeout=2, socket_connect_timeout=2))


def verify_request_identity(request, value: str, *, key: str) -> InternalIdentity:
    """`value` verified against this request (a Django or DRF request); InvalidIdentity otherwise."""
    return verify_identity(
        value,
        key=key,
        method=request.method,
        path=request.path,
        query=request.META.get("QUERY_STRING", ""),
        body=request.body,
        replay=replay_guard(getattr(settings, "REDIS_URL", "") or ""),
    )
