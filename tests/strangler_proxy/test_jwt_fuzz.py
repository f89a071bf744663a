"""A Bearer JWT that fails to parse for any reason is a 401, never an exception and never a forward: malformed
headers, claims and segments thrown at contracts.tokens.verify_access_token (Hypothesis) and at a real
gateway in front of a stand-in upstream."""

from __future__ import annotations

import base64
import json
import time

import jwt
import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contracts.tokens import AccessTokenClaims, InvalidToken, verify_access_token
from kernel import crypto

ISSUER, AUDIENCE = "https://auth.techstore.example", "techstore"
KEY = crypto.generate_private_key()
KID = crypto.thumbprint(crypto.public_jwk(KEY.public_key()))
KEYS = {KID: KEY.public_key()}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def good_claims(now: int) -> dict:
    return {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "42",
        "iat": now,
        "nbf": now,
        "exp": now + 300,
        "jti": "j1",
        "scope": "read",
        "roles": ["staff"],
        "legacy_user_id": 7,
    }


def signed(claims: dict, header: dict) -> str:
    """Signed by our key whatever the claims hold (PyJWT's jwt.encode would refuse odd claim types)."""
    header = {"alg": "ES256", **header}
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
    signature = jwt.algorithms.ECAlgorithm(jwt.algorithms.ECAlgorithm.SHA256).sign(
        signing_input.encode(), KEY
    )
    return f"{signing_input}.{b64(signature)}"


@st.composite
def hostile_tokens(draw) -> str:
    """Tokens a client could send: raw junk, three junk segments, a header with odd values, or a token our
    key really signed whose claims have odd types."""
    kind = draw(st.sampled_from(["junk", "segments", "header", "claims"]))
    if kind == "junk":
        return draw(st.text(max_size=60))
    if kind == "segments":
        parts = draw(st.lists(st.binary(max_size=30), min_size=3, max_size=3))
        return ".".join(b64(part) if draw(st.booleans()) else part.decode("latin-1") for part in parts)
    now = int(time.time())
    if kind == "header":
        header = {"alg": "ES256", "kid": KID, "typ": "at+jwt"}
        header[draw(st.sampled_from(["alg", "kid", "typ", "crit", "jku"]))] = draw(json_values)
        claims = b64(json.dumps(good_claims(now)).encode())
        return f"{b64(json.dumps(header).encode())}.{claims}.{b64(draw(st.binary(max_size=64)))}"
    claims = good_claims(now)
    claims[draw(st.sampled_from(sorted(claims)) | st.text(max_size=5))] = draw(json_values)
    return signed(claims, {"kid": KID, "typ": "at+jwt"})


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(token=hostile_tokens())
def test_verification_either_returns_claims_or_refuses_with_a_code(token):
    try:
        claims = verify_access_token(token, key_for_kid=KEYS, issuer=ISSUER, audience=AUDIENCE)
    except InvalidToken as exc:
        refused = exc
    else:
        refused = None
    if refused is not None:
        assert refused.code
        return
    assert isinstance(claims, AccessTokenClaims)
    assert isinstance(claims.subject, str)
    assert all(isinstance(role, str) for role in claims.roles)
    assert claims.legacy_user_id is None or type(claims.legacy_user_id) is int


@pytest.mark.parametrize("kid", [0, None, True, ["k"], {"k": 1}, 1.5, ""])
def test_a_kid_that_is_not_a_string_is_refused(kid):
    token = signed(good_claims(int(time.time())), {"kid": kid})
    with pytest.raises(InvalidToken) as refused:
        verify_access_token(token, key_for_kid=KEYS, issuer=ISSUER, audience=AUDIENCE)
    assert refused.value.code in ("malformed_token", "missing_kid")


@pytest.mark.parametrize(
    ("claim", "value"),
    [
        ("roles", 5),
        ("roles", "admin"),
        ("roles", [1]),
        ("legacy_user_id", True),
        ("legacy_user_id", "7"),
        ("scope", ["read"]),
        ("sub", {"id": 1}),
        ("client_id", 3),
    ],
)
def test_a_signed_claim_of_the_wrong_type_is_refused(claim, value):
    claims = {**good_claims(int(time.time())), claim: value}
    with pytest.raises(InvalidToken) as refused:
        verify_access_token(signed(claims, {"kid": KID}), key_for_kid=KEYS, issuer=ISSUER, audience=AUDIENCE)
    assert refused.value.code in ("invalid_claims", "invalid_token")


def test_hostile_bearer_tokens_get_401_from_a_real_gateway_and_reach_no_upstream(
    gateway_process, standin_upstream, make_standin
):
    auth = make_standin("auth")
    document = {"keys": [crypto.jwk_for_jwks(crypto.public_jwk(KEY.public_key()), kid=KID)]}
    auth.responder = lambda received: (200, document) if received.path.endswith("/jwks.json") else None
    gateway = gateway_process(
        legacy_url=standin_upstream.url,
        env={"AUTH_SERVICE_URL": auth.url, "AUTH_ISSUER": ISSUER, "AUTH_AUDIENCE": AUDIENCE},
    )
    now = int(time.time())
    tokens = [signed(good_claims(now), {"kid": kid}) for kid in (0, None, True, ["k"], 1.5)]
    tokens += [signed({**good_claims(now), "roles": 5}, {"kid": KID}), "a.b.c", "x" * 30, "..", "e30.e30.e30"]
    header = b64(json.dumps({"alg": "ES256", "kid": KID}).encode())
    tokens += [
        f"{header}.{b64(b'[1]')}.AAAA",
        f"{header}.!!.AAAA",
        f"{b64(b'[]')}.e30.AA",
        "a b.c.d",
        "Bearer x.y.z",
    ]
    seen = {}
    for token in tokens:
        answer = requests.get(
            f"{gateway.url}/api/v1/orders", headers={"Authorization": f"Bearer {token}"}, timeout=30
        )
        seen[token] = answer.status_code
    assert set(seen.values()) == {401}, seen
    assert standin_upstream.requests_to("/api/v1/orders") == []
