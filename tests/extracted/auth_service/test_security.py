"""Every forged or unusable access token is refused at a real endpoint with 401 and its code."""

import base64
import hashlib
import hmac
import json
import time

import pytest
from cryptography.hazmat.primitives import serialization
from django.conf import settings

from contracts.tokens import issue_access_token
from extracted.auth_service import keys
from kernel import crypto


def b64(data) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decoded(part: str) -> dict:
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def mint(**overrides) -> str:
    material = keys.signing_key_active()
    arguments = {
        "private_key": material.private_key,
        "kid": material.kid,
        "issuer": settings.AUTH_ISSUER,
        "audience": settings.AUTH_AUDIENCE,
        "subject": "1",
        "ttl_seconds": 300,
        "roles": ["customer"],
    }
    return issue_access_token(**{**arguments, **overrides})


def alg_none() -> str:
    header, payload, _ = mint().split(".")
    return f"{b64({**decoded(header), 'alg': 'none'})}.{payload}."


def hs256_with_the_public_key() -> str:
    _, payload, _ = mint().split(".")
    public_pem = (
        keys.signing_key_active()
        .private_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    signing_input = f"{b64({'alg': 'HS256', 'typ': 'JWT', 'kid': keys.signing_key_active().kid})}.{payload}"
    return f"{signing_input}.{b64(hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest())}"


def tampered() -> str:
    header, payload, signature = mint().split(".")
    return f"{header}.{b64({**decoded(payload), 'roles': ['admin']})}.{signature}"


FORGERIES = {
    "alg_none": (alg_none, "unsupported_algorithm"),
    "hs256_with_the_public_key": (hs256_with_the_public_key, "unsupported_algorithm"),
    "wrong_kid": (lambda: mint(private_key=crypto.generate_private_key(), kid="rotated-away"), "unknown_kid"),
    "expired": (lambda: mint(now=time.time() - 3600, ttl_seconds=60), "token_expired"),
    "not_yet_valid": (lambda: mint(now=time.time() + 3600), "token_not_yet_valid"),
    "wrong_audience": (lambda: mint(audience="someone-else"), "invalid_audience"),
    "wrong_issuer": (lambda: mint(issuer="https://evil.example"), "invalid_issuer"),
    "tampered_payload": (tampered, "invalid_signature"),
    "garbage": (lambda: "not.a.jwt", "malformed_token"),
}


@pytest.mark.parametrize("case", sorted(FORGERIES))
def test_a_forged_or_unusable_token_is_refused_with_401_and_its_code(api_client, db, case):
    make, code = FORGERIES[case]
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {make()}")
    answer = api_client.get("/api/v1/auth/me")
    assert (answer.status_code, answer.json()["code"]) == (401, code)
    assert answer["WWW-Authenticate"].startswith('Bearer realm="techstore", error="invalid_token"')


def test_the_same_endpoint_accepts_a_genuine_token(api_client, db):
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {mint()}")
    assert api_client.get("/api/v1/auth/me").status_code == 200


@pytest.mark.parametrize("scheme", ["bearer", "BEARER", "bEaReR"])
def test_the_bearer_scheme_is_matched_in_any_case_as_the_gateway_matches_it(api_client, db, scheme):
    """Issue 11: `Authorization: bearer …` passed the gateway's check and was refused here."""
    api_client.credentials(HTTP_AUTHORIZATION=f"{scheme} {mint()}")
    assert api_client.get("/api/v1/auth/me").status_code == 200
    api_client.credentials(HTTP_AUTHORIZATION=f"{scheme} {FORGERIES['garbage'][0]()}")
    assert api_client.get("/api/v1/auth/me").json()["code"] == "malformed_token"  # checked, not ignored
