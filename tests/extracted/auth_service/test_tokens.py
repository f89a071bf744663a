"""Verification refuses every forged or unusable token, with a stable code (pure: no database)."""

import base64
import hashlib
import hmac
import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from contracts.tokens import InvalidToken, issue_access_token, verify_access_token
from kernel import crypto

ISSUER = "https://auth.techstore.example"
AUDIENCE = "techstore"


@pytest.fixture(scope="module")
def signing():
    key = crypto.generate_private_key()
    kid = crypto.thumbprint(crypto.public_jwk(key.public_key()))
    return key, kid


def mint(signing, **overrides):
    key, kid = signing
    arguments = {
        "private_key": key,
        "kid": kid,
        "issuer": ISSUER,
        "audience": AUDIENCE,
        "subject": "42",
        "ttl_seconds": 300,
        "scopes": ["read", "openid"],
        "roles": ["staff"],
        "legacy_user_id": 7,
        "client_id": "web",
    }
    return issue_access_token(**{**arguments, **overrides})


def verify(signing, token, **overrides):
    key, kid = signing
    arguments = {"key_for_kid": {kid: key.public_key()}, "issuer": ISSUER, "audience": AUDIENCE}
    return verify_access_token(token, **{**arguments, **overrides})


def b64(data) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def parts(token):
    header, payload, signature = token.split(".")
    pad = lambda s: s + "=" * (-len(s) % 4)  # noqa: E731
    return (
        json.loads(base64.urlsafe_b64decode(pad(header))),
        json.loads(base64.urlsafe_b64decode(pad(payload))),
        signature,
    )


def test_a_token_carries_kid_issuer_audience_scopes_roles_and_the_legacy_user_id(signing):
    token = mint(signing)
    header, payload, _ = parts(token)
    assert header == {"alg": "ES256", "kid": signing[1], "typ": "at+jwt"}
    assert {"iss", "aud", "sub", "exp", "nbf", "iat", "jti", "scope", "roles", "legacy_user_id"} <= set(
        payload
    )
    claims = verify(signing, token)
    assert (claims.subject, claims.roles, claims.legacy_user_id, claims.client_id) == (
        "42",
        ("staff",),
        7,
        "web",
    )
    assert claims.scopes == ("read", "openid")
    assert payload["exp"] - payload["iat"] == 300


def expect(code, signing, token, **overrides):
    with pytest.raises(InvalidToken) as refused:
        verify(signing, token, **overrides)
    assert refused.value.code == code


def test_alg_none_is_refused(signing):
    _, payload, _ = parts(mint(signing))
    unsigned = f"{b64({'alg': 'none', 'kid': signing[1], 'typ': 'JWT'})}.{b64(payload)}."
    expect("unsupported_algorithm", signing, unsigned)


def test_hs256_signed_with_the_public_key_as_the_secret_is_refused(signing):
    key, kid = signing
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    _, payload, _ = parts(mint(signing))
    signing_input = f"{b64({'alg': 'HS256', 'kid': kid, 'typ': 'JWT'})}.{b64(payload)}"
    mac = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    expect("unsupported_algorithm", signing, f"{signing_input}.{b64(mac)}")


def test_a_token_signed_by_an_unknown_kid_is_refused(signing):
    stranger = crypto.generate_private_key()
    token = mint(signing, private_key=stranger, kid="not-a-key-we-publish")
    expect("unknown_kid", signing, token)


def test_a_token_whose_kid_names_our_key_but_was_signed_by_another_key_is_refused(signing):
    token = mint(signing, private_key=crypto.generate_private_key())
    expect("invalid_signature", signing, token)


def test_a_token_without_kid_is_refused(signing):
    key, _ = signing
    token = jwt.encode({"sub": "1"}, key, algorithm="ES256")
    expect("missing_kid", signing, token)


def test_an_expired_token_is_refused(signing):
    token = mint(signing, now=time.time() - 3600, ttl_seconds=60)
    expect("token_expired", signing, token)


def test_a_token_not_yet_valid_is_refused(signing):
    token = mint(signing, now=time.time() + 3600)
    expect("token_not_yet_valid", signing, token)


def test_a_token_for_another_audience_is_refused(signing):
    expect("invalid_audience", signing, mint(signing, audience="another-shop"))


def test_a_token_from_another_issuer_is_refused(signing):
    expect("invalid_issuer", signing, mint(signing, issuer="https://evil.example"))


def test_a_tampered_payload_is_refused(signing):
    token = mint(signing)
    header, _, signature = token.split(".")
    claims = parts(token)[1]
    claims["roles"] = ["admin"]
    expect("invalid_signature", signing, f"{header}.{b64(claims)}.{signature}")


def test_a_token_missing_a_required_claim_is_refused(signing):
    key, kid = signing
    token = jwt.encode(
        {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": "1",
            "iat": int(time.time()),
            "nbf": int(time.time()),
            "jti": "x",
        },
        key,
        algorithm="ES256",
        headers={"kid": kid},
    )
    expect("missing_claim", signing, token)


@pytest.mark.parametrize("garbage", ["", "abc", "a.b", "a.b.c", "e30.e30.e30"])
def test_garbage_is_refused_as_malformed_or_invalid(signing, garbage):
    with pytest.raises(InvalidToken) as refused:
        verify(signing, garbage)
    assert refused.value.code in {"malformed_token", "unsupported_algorithm"}
