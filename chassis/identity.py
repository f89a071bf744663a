"""Who is calling, on a Django request, for the monolith and every service:

- `verify_request_identity`: the gateway's X-Strangler-Identity against the request's own method, path,
  query and body, and the replay guard every verifier shares (Redis at IDENTITY_REPLAY_REDIS_URL, default
  REDIS_URL; without either, this process's memory). The monolith's authentication class and the
  services' all call it.
- `verify_bearer_access_token`: an Auth service JWT in `Authorization: Bearer` (any case), verified against
  the Auth service's JWKS (AUTH_SERVICE_URL, AUTH_ISSUER, AUTH_AUDIENCE) and required to speak for a shop
  user (its `legacy_user_id`); each service turns the claims into its own user."""

from __future__ import annotations

from functools import cache

from django.conf import settings

from contracts.errors import ApplicationError
from contracts.identity import InternalIdentity, ReplayGuard, verify_identity
from contracts.tokens import AccessTokenClaims
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
        replay=replay_guard(
            getattr(settings, "IDENTITY_REPLAY_REDIS_URL", "") or getattr(settings, "REDIS_URL", "") or ""
        ),
    )


@cache
def _jwks(url: str):
    from contracts.jwks import JwksCache

    return JwksCache(url)


def verify_bearer_access_token(request) -> AccessTokenClaims | None:
    """The claims of the request's Bearer JWT; None without one; ApplicationError 401 when it is refused."""
    from contracts.tokens import InvalidToken, bearer_token, verify_access_token

    token = bearer_token(request.headers.get("Authorization", ""))
    if token is None:
        return None
    jwks = _jwks(settings.AUTH_SERVICE_URL.rstrip("/") + "/.well-known/jwks.json")
    try:
        claims = verify_access_token(
            token, key_for_kid=jwks.key_for_kid, issuer=settings.AUTH_ISSUER, audience=settings.AUTH_AUDIENCE
        )
    except InvalidToken as exc:
        raise ApplicationError(exc.code, exc.message, status=401) from None
    if claims.legacy_user_id is None:
        raise ApplicationError("not_a_user", "This token does not speak for a shop user", status=401)
    return claims
