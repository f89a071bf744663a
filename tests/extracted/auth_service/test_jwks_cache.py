"""The resource servers' JWKS cache (pure: a fake clock and a JWKS document built from real keys)."""

import subprocess
import sys

import requests

from chassis.settings import BASE_DIR
from contracts.jwks import JwksCache
from kernel import crypto


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def entry(key):
    jwk = crypto.public_jwk(key.public_key())
    return crypto.jwk_for_jwks(jwk, kid=crypto.thumbprint(jwk))


class AuthService:
    """What the cache fetches: a JWKS that rotations change, or an outage."""

    def __init__(self, *keys) -> None:
        self.entries = [entry(k) for k in keys]
        self.down = False

    def __call__(self, url):
        if self.down:
            raise requests.ConnectionError("auth service down")
        return {
            "keys": [*self.entries, {"kty": "RSA", "alg": "RS256", "kid": "oidc", "n": "x", "e": "AQAB"}]
        }, 300


def test_keys_are_fetched_once_and_served_from_the_cache_until_max_age():
    first = crypto.generate_private_key()
    service, clock = AuthService(first), Clock()
    cache = JwksCache("http://auth/.well-known/jwks.json", fetch=service, clock=clock)
    kid = service.entries[0]["kid"]
    assert cache.key_for_kid(kid).public_numbers() == first.public_key().public_numbers()
    clock.now += 299
    assert cache.key_for_kid(kid) is not None
    assert cache.fetches == 1
    clock.now += 1  # max-age reached
    cache.key_for_kid(kid)
    assert cache.fetches == 2


def test_an_unknown_kid_refetches_so_a_rotated_in_key_is_found_at_once():
    service, clock = AuthService(crypto.generate_private_key()), Clock()
    cache = JwksCache("u", fetch=service, clock=clock)
    cache.key_for_kid(service.entries[0]["kid"])
    rotated_in = crypto.generate_private_key()
    service.entries.insert(0, entry(rotated_in))
    clock.now += 10
    assert cache.key_for_kid(service.entries[0]["kid"]) is not None
    assert cache.fetches == 2


def test_unknown_kids_refetch_at_most_once_per_interval():
    service, clock = AuthService(crypto.generate_private_key()), Clock()
    cache = JwksCache("u", fetch=service, clock=clock, min_refetch_seconds=5)
    for number in range(50):
        assert cache.key_for_kid(f"forged-{number}") is None
    assert cache.fetches == 1
    clock.now += 5
    cache.key_for_kid("forged-again")
    assert cache.fetches == 2


def test_only_es256_keys_are_kept():
    service = AuthService(crypto.generate_private_key())
    cache = JwksCache("u", fetch=service, clock=Clock())
    assert cache.key_for_kid("oidc") is None


def test_the_last_good_keys_keep_answering_while_the_auth_service_is_down():
    service, clock = AuthService(crypto.generate_private_key()), Clock()
    cache = JwksCache("u", fetch=service, clock=clock)
    kid = service.entries[0]["kid"]
    cache.key_for_kid(kid)
    service.down = True
    clock.now += 3600
    assert cache.key_for_kid(kid) is not None
    assert cache.fetches == 2


def test_a_resource_server_authenticates_with_the_cache_without_this_service_s_app():
    """Run in a process whose settings install neither this app nor its models."""
    program = """
import django, sys, time
from django.conf import settings
settings.configure(INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth", "rest_framework"],
                   AUTH_ISSUER="https://auth.test", AUTH_AUDIENCE="techstore")
django.setup()
from rest_framework.test import APIRequestFactory
from kernel import crypto
from extracted.auth_service.authentication import BearerJwtAuthentication
from contracts.jwks import JwksCache
from extracted.auth_service.rbac import require_permission
from contracts.tokens import issue_access_token
key = crypto.generate_private_key()
jwk = crypto.public_jwk(key.public_key()); kid = crypto.thumbprint(jwk)
cache = JwksCache("u", fetch=lambda url: ({"keys": [crypto.jwk_for_jwks(jwk, kid=kid)]}, 60))
class ServiceAuthentication(BearerJwtAuthentication):
    def key_for_kid(self, kid):
        return cache.key_for_kid(kid)
token = issue_access_token(private_key=key, kid=kid, issuer="https://auth.test", audience="techstore",
                           subject="7", ttl_seconds=60, roles=["staff"], legacy_user_id=3)
request = APIRequestFactory().get("/", HTTP_AUTHORIZATION="Bearer " + token)
principal, claims = ServiceAuthentication().authenticate(request)
request.user = principal
assert (principal.user_id, principal.roles, principal.legacy_user_id) == (7, ("staff",), 3)
assert require_permission("payments.add_refund")().has_permission(request, None)
assert "extracted.auth_service.models" not in sys.modules
print("ok")
"""
    done = subprocess.run(
        [sys.executable, "-c", program], cwd=BASE_DIR, capture_output=True, text=True, timeout=60
    )
    assert done.stdout.strip() == "ok", done.stderr


def test_cached_key_never_fetches_and_says_when_a_fetch_is_due():
    key = crypto.generate_private_key()
    kid = entry(key)["kid"]
    service, clock = AuthService(key), Clock()
    cache = JwksCache("http://auth/jwks", fetch=service, clock=clock, min_refetch_seconds=5)

    assert cache.cached_key(kid) is None  # nothing held yet: a fetch is due
    assert cache.key_for_kid(kid) is not None
    assert cache.cached_key(kid) is not None
    clock.now += 301  # stale: a refetch is due
    assert cache.cached_key(kid) is None
    service.down = True
    assert cache.key_for_kid(kid) is not None  # the attempt failed; the last good set answers
    clock.now += 1  # between attempts the held (stale) key answers inline
    assert cache.cached_key(kid) is not None
    assert cache.fetches == 2
