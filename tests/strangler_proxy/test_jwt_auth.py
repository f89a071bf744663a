"""Dual auth at the gateway: Bearer JWTs verified locally against the auth service's JWKS (here a real HTTP
stand-in serving one), refused ones answered 401 by the gateway, good ones made the flow's identity
(sticky with the user's legacy id); JWT requests routed to the monolith carry the signed
X-Strangler-Identity instead of the token, and a client's own copy of that header never gets through."""

# ruff: noqa: F401, F811 -- `signing` is the auth service tests' key fixture, imported (one token minter)

import asyncio
import time

import jwt
import pytest
import requests
from mitmproxy import exceptions
from mitmproxy.test import tflow, tutils
from prometheus_client import REGISTRY

from contracts.identity import (
    DEV_INTERNAL_IDENTITY_KEY,
    HEADER,
    InvalidIdentity,
    sign_identity,
    verify_identity,
)
from kernel import crypto
from kernel.replay import MemoryReplayGuard
from strangler_proxy.identity import IDENTITY_KEY, SESSION_KEY, USER_ID_HEADER, EdgeIdentity
from strangler_proxy.jwt_auth import BEARER_KEY, CLAIMS_KEY, IdentityHeader, JwtAuth, login_username
from strangler_proxy.routes import Decision, Identity, Upstream
from strangler_proxy.routing import DECISION_KEY, flag_context
from tests.extracted.auth_service.test_tokens import AUDIENCE, ISSUER, mint, signing
from tests.strangler_proxy.conftest import addon_context, write_flags_file, write_routes

KEY = "k" * 40
NO_BODY = {"query": "", "body": b"", "replay": None}
LEGACY = Upstream("legacy", "http", "127.0.0.1", 8000)
PRODUCT = Upstream("product", "http", "127.0.0.1", 8101)


def jwks_document(signing) -> dict:
    key, kid = signing
    return {"keys": [crypto.jwk_for_jwks(crypto.public_jwk(key.public_key()), kid=kid)]}


@pytest.fixture
def jwks_server(make_standin, signing):
    server = make_standin("auth")
    document = jwks_document(signing)
    server.responder = lambda received: (200, document) if received.path.endswith("/jwks.json") else None
    return server


def jwt_options(jwks_server) -> dict:
    return {
        "strangler_jwks_url": f"{jwks_server.url}/.well-known/jwks.json",
        "strangler_jwt_issuer": ISSUER,
        "strangler_jwt_audience": AUDIENCE,
    }


def bearer_flow(token: str, path: str = "/api/v1/orders", method: str = "GET"):
    flow = tflow.tflow()
    flow.request = tutils.treq(
        method=method.encode(), path=path.encode(), headers=((b"Authorization", f"Bearer {token}".encode()),)
    )
    return flow


def decided(flow, upstream: Upstream, fallback: Upstream | None = None, legacy: Upstream | None = None):
    flow.metadata[DECISION_KEY] = Decision(
        "r", "route", None, False, upstream, fallback, None, 5.0, 10, True, legacy=legacy
    )
    return flow


# --- JwtAuth ---------------------------------------------------------------------------------------------


def test_a_valid_jwt_becomes_the_identity_with_the_legacy_user_id_as_flag_user(jwks_server, signing):
    addon = JwtAuth()
    with addon_context(addon, **jwt_options(jwks_server)):
        flow = bearer_flow(mint(signing))
        asyncio.run(addon.requestheaders(flow))

    assert flow.response is None
    assert flow.metadata[IDENTITY_KEY] == Identity("7", None, ("staff",), "jwt")
    assert flow.request.headers[USER_ID_HEADER] == "7"
    assert flow.metadata[CLAIMS_KEY].legacy_user_id == 7
    # the rollout buckets this user exactly as it bucketed their legacy session (same user id)
    assert flag_context(flow).user_id == "7"


def test_the_jwks_is_fetched_once_and_then_served_from_the_cache(jwks_server, signing):
    addon = JwtAuth()
    with addon_context(addon, **jwt_options(jwks_server)):
        for _ in range(5):
            flow = bearer_flow(mint(signing))
            asyncio.run(addon.requestheaders(flow))
            assert flow.response is None

    assert len(jwks_server.requests_to("/.well-known/jwks.json")) == 1


def _alg_none(signing) -> str:
    _, kid = signing
    return jwt.encode({"sub": "42", "legacy_user_id": 1}, None, algorithm="none", headers={"kid": kid})


REFUSED = [
    ("expired", lambda s: mint(s, now=time.time() - 3600), "token_expired"),
    ("not yet valid", lambda s: mint(s, now=time.time() + 3600), "token_not_yet_valid"),
    ("wrong audience", lambda s: mint(s, audience="someone-else"), "invalid_audience"),
    ("wrong issuer", lambda s: mint(s, issuer="https://evil.example"), "invalid_issuer"),
    ("unknown kid", lambda s: mint(s, kid="not-a-published-kid"), "unknown_kid"),
    ("alg none", _alg_none, "unsupported_algorithm"),
    ("not a JWT", lambda s: "opaque-bearer-token", "malformed_token"),
    (
        "tampered payload",
        lambda s: (
            lambda t: t.split(".")[0] + "." + mint(s, legacy_user_id=1).split(".")[1] + "." + t.split(".")[2]
        )(mint(s)),
        "invalid_signature",
    ),
]


def refused_count(code: str) -> float:
    return REGISTRY.get_sample_value("strangler_jwt_refused_total", {"code": code}) or 0.0


@pytest.mark.parametrize(("case", "make", "code"), REFUSED, ids=[case for case, _, _ in REFUSED])
def test_a_refused_jwt_is_answered_401_by_the_gateway_with_the_reason(jwks_server, signing, case, make, code):
    addon = JwtAuth()
    refused_before = refused_count(code)
    with addon_context(addon, **jwt_options(jwks_server)):
        flow = bearer_flow(make(signing))
        asyncio.run(addon.requestheaders(flow))

    assert refused_count(code) == refused_before + 1
    assert flow.response is not None
    assert flow.response.status_code == 401
    assert flow.response.json() == {"code": code, "message": flow.response.json()["message"], "extra": {}}
    assert 'error="invalid_token"' in flow.response.headers["WWW-Authenticate"]
    assert IDENTITY_KEY not in flow.metadata


def test_a_request_without_a_bearer_token_is_left_to_the_legacy_credentials(jwks_server):
    addon = JwtAuth()
    with addon_context(addon, **jwt_options(jwks_server)):
        flow = tflow.tflow()
        flow.request.headers["Authorization"] = "Token legacy-key"
        asyncio.run(addon.requestheaders(flow))

    assert flow.response is None
    assert CLAIMS_KEY not in flow.metadata
    assert jwks_server.received == []


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"strangler_jwks_url": "ftp://auth/jwks"}, "strangler_jwks_url"),
        ({"strangler_jwt_issuer": " "}, "strangler_jwt_issuer"),
        ({"strangler_jwt_audience": ""}, "strangler_jwt_audience"),
        ({"strangler_jwt_leeway": -1}, "strangler_jwt_leeway"),
    ],
)
def test_bad_jwt_options_stop_the_gateway_at_start(options, message):
    addon = JwtAuth()
    with addon_context(addon) as tctx, pytest.raises(exceptions.OptionsError, match=message):
        tctx.configure(addon, **options)


# --- IdentityHeader --------------------------------------------------------------------------------------


def verified_jwt_flow(jwks_server, signing, path="/api/v1/payments/3/refunds", method="POST", **claims):
    addon = JwtAuth()
    with addon_context(addon, **jwt_options(jwks_server)):
        flow = bearer_flow(mint(signing, **claims), path=path, method=method)
        asyncio.run(addon.requestheaders(flow))
    return flow


def test_a_jwt_request_routed_to_the_monolith_carries_a_signed_identity_instead_of_the_token(
    jwks_server, signing
):
    flow = decided(verified_jwt_flow(jwks_server, signing, path="/api/v1/payments/3/refunds?x=1"), LEGACY)
    addon = IdentityHeader()
    with addon_context(addon, strangler_internal_identity_key=KEY):
        addon.request(flow)

    assert "Authorization" not in flow.request.headers
    assert flow.metadata[BEARER_KEY].startswith("Bearer ")  # kept for shadow copies to a service
    identity = verify_identity(
        flow.request.headers[HEADER],
        key=KEY,
        method="POST",
        path="/api/v1/payments/3/refunds",
        query="x=1",
        body=flow.request.raw_content,
        replay=None,
    )
    assert (identity.user_id, identity.roles, identity.scope) == (7, ("staff",), ("read", "openid"))
    assert identity.jti == flow.metadata[CLAIMS_KEY].claims["jti"]
    assert identity.expires_at <= time.time() + 30


def test_the_signed_identity_is_refused_on_another_method_or_path_or_under_another_key(jwks_server, signing):
    flow = decided(verified_jwt_flow(jwks_server, signing), LEGACY)
    addon = IdentityHeader()
    with addon_context(addon, strangler_internal_identity_key=KEY):
        addon.request(flow)
    value = flow.request.headers[HEADER]

    for method, path, key in (
        ("GET", "/api/v1/payments/3/refunds", KEY),
        ("POST", "/api/v1/payments/4/refunds", KEY),
        ("POST", "/api/v1/payments/3/refunds", "x" * 40),
    ):
        with pytest.raises(InvalidIdentity, match="bad_signature"):
            verify_identity(value, key=key, method=method, path=path, query="", body=b"", replay=None)


def test_the_signed_identity_binds_the_query_and_the_body_and_is_good_once(jwks_server, signing):
    flow = decided(
        verified_jwt_flow(jwks_server, signing, path="/api/v1/accounts/me?x=1", method="PATCH"), LEGACY
    )
    flow.request.content = b'{"first_name": "Ada"}'
    addon = IdentityHeader()
    with addon_context(addon, strangler_internal_identity_key=KEY):
        addon.request(flow)
    value = flow.request.headers[HEADER]
    request = {"key": KEY, "method": "PATCH", "path": "/api/v1/accounts/me"}

    with pytest.raises(InvalidIdentity, match="other_query"):
        verify_identity(value, **request, query="x=2", body=b'{"first_name": "Ada"}', replay=None)
    with pytest.raises(InvalidIdentity, match="other_body"):
        verify_identity(value, **request, query="x=1", body=b'{"first_name": "Eve"}', replay=None)
    guard = MemoryReplayGuard()
    assert verify_identity(value, **request, query="x=1", body=b'{"first_name": "Ada"}', replay=guard)
    with pytest.raises(InvalidIdentity, match="replayed"):
        verify_identity(value, **request, query="x=1", body=b'{"first_name": "Ada"}', replay=guard)


def test_a_streamed_bearer_request_to_the_monolith_is_refused(jwks_server, signing):
    flow = decided(verified_jwt_flow(jwks_server, signing), LEGACY)
    flow.request.stream = True
    addon = IdentityHeader()
    with addon_context(addon, strangler_internal_identity_key=KEY):
        addon.requestheaders(flow)
    assert flow.response.status_code == 413


def test_an_expired_identity_value_is_refused():
    value = sign_identity(
        key=KEY, user_id=7, roles=["staff"], scope=[], jti="j", method="GET", path="/x", now=time.time() - 60
    )
    with pytest.raises(InvalidIdentity, match="expired"):
        verify_identity(value, key=KEY, method="GET", path="/x", query="", body=b"", replay=None)


def test_a_jwt_request_routed_to_a_service_keeps_its_token_and_gets_no_identity_header(jwks_server, signing):
    flow = decided(verified_jwt_flow(jwks_server, signing), PRODUCT)
    addon = IdentityHeader()
    with addon_context(addon, strangler_internal_identity_key=KEY):
        addon.request(flow)

    assert flow.request.headers["Authorization"].startswith("Bearer ")
    assert HEADER not in flow.request.headers


def test_a_service_route_that_may_fall_back_to_the_monolith_carries_both(jwks_server, signing):
    flow = decided(verified_jwt_flow(jwks_server, signing), PRODUCT, fallback=LEGACY)
    addon = IdentityHeader()
    with addon_context(addon, strangler_internal_identity_key=KEY):
        addon.request(flow)

    assert flow.request.headers["Authorization"].startswith("Bearer ")
    assert verify_identity(
        flow.request.headers[HEADER],
        key=KEY,
        method="POST",
        path="/api/v1/payments/3/refunds",
        query="",
        body=flow.request.raw_content,
        replay=None,
    )


def test_a_route_a_service_took_over_from_the_monolith_without_fallback_carries_both(jwks_server, signing):
    """catalog.write and orders.checkout never fall back, yet their service answers the monolith's contract
    and knows a JWT user's roles only from the signed identity (a staff write was 401 at the service)."""
    flow = decided(verified_jwt_flow(jwks_server, signing), PRODUCT, legacy=LEGACY)
    addon = IdentityHeader()
    with addon_context(addon, strangler_internal_identity_key=KEY):
        addon.request(flow)

    assert flow.request.headers["Authorization"].startswith("Bearer ")
    identity = verify_identity(
        flow.request.headers[HEADER],
        key=KEY,
        method="POST",
        path="/api/v1/payments/3/refunds",
        query="",
        body=flow.request.raw_content,
        replay=None,
    )
    assert identity.roles == ("staff",)


def test_a_client_credentials_token_reaches_the_monolith_without_any_identity(jwks_server, signing):
    flow = decided(
        verified_jwt_flow(jwks_server, signing, legacy_user_id=None, subject="client:orders"), LEGACY
    )
    addon = IdentityHeader()
    with addon_context(addon, strangler_internal_identity_key=KEY):
        addon.request(flow)

    assert "Authorization" not in flow.request.headers
    assert HEADER not in flow.request.headers
    assert flow.metadata[IDENTITY_KEY].user_id == "client:orders"


def test_a_short_identity_key_stops_the_gateway_at_start():
    addon = IdentityHeader()
    with addon_context(addon) as tctx, pytest.raises(exceptions.OptionsError, match="at least 32"):
        tctx.configure(addon, strangler_internal_identity_key="short")


def test_the_development_identity_key_is_refused_when_debug_is_off(monkeypatch):
    monkeypatch.setenv("DEBUG", "false")
    addon = IdentityHeader()
    with (
        addon_context(addon) as tctx,
        pytest.raises(exceptions.OptionsError, match="development default"),
    ):
        tctx.configure(addon, strangler_internal_identity_key=DEV_INTERNAL_IDENTITY_KEY)


def test_edge_identity_strips_a_client_supplied_identity_header():
    addon = EdgeIdentity()
    flow = tflow.tflow()
    flow.request.headers[HEADER] = sign_identity(
        key=KEY, user_id=1, roles=["admin"], scope=[], jti="forged", method="GET", path="/path"
    )
    with addon_context(addon, strangler_identity_url="http://127.0.0.1:9"):
        asyncio.run(addon.requestheaders(flow))

    assert HEADER not in flow.request.headers
    assert SESSION_KEY not in flow.metadata


# --- a real gateway process ------------------------------------------------------------------------------


@pytest.fixture
def jwt_gateway(gateway_process, make_standin, jwks_server, tmp_path):
    legacy = make_standin("legacy")
    product = make_standin("product")
    routes = write_routes(
        tmp_path / "routes.yaml",
        f"""
upstreams:
  legacy: {legacy.url}
  product: {product.url}
defaults: {{legacy: legacy, timeout: 10, bulkhead: 10}}
routes:
  - id: v2.catalog
    path: ^/api/v2/catalog(/.*)?$
    legacy: null
    target: product
""",
    )
    gateway = gateway_process(
        routes,
        write_flags_file(tmp_path / "flags.json"),
        {
            "AUTH_SERVICE_URL": jwks_server.url,
            "AUTH_ISSUER": ISSUER,
            "AUTH_AUDIENCE": AUDIENCE,
            "INTERNAL_IDENTITY_KEY": KEY,
        },
        legacy_url=legacy.url,
    )
    return gateway, legacy, product


@pytest.mark.e2e
def test_through_the_gateway_a_jwt_reaches_the_monolith_as_a_signed_identity_and_a_service_as_the_token(
    jwt_gateway, signing
):
    gateway, legacy, product = jwt_gateway
    token = mint(signing)

    to_monolith = requests.get(
        f"{gateway.url}/api/v1/orders", headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    to_service = requests.get(
        f"{gateway.url}/api/v2/catalog", headers={"Authorization": f"Bearer {token}"}, timeout=10
    )

    assert (to_monolith.status_code, to_service.status_code) == (200, 200)
    [at_monolith] = legacy.requests_to("/api/v1/orders")
    assert at_monolith.header("Authorization") is None
    assert (
        verify_identity(
            at_monolith.header(HEADER), key=KEY, method="GET", path="/api/v1/orders", **NO_BODY
        ).user_id
        == 7
    )
    [at_service] = product.requests_to("/api/v2/catalog")
    assert at_service.header("Authorization") == f"Bearer {token}"
    assert at_service.header(HEADER) is None


@pytest.mark.e2e
def test_through_the_gateway_a_spoofed_identity_header_never_reaches_the_monolith(jwt_gateway, signing):
    gateway, legacy, _ = jwt_gateway
    forged = sign_identity(
        key=KEY, user_id=1, roles=["admin"], scope=[], jti="forged", method="GET", path="/api/v1/orders"
    )

    alone = requests.get(f"{gateway.url}/api/v1/orders", headers={HEADER: forged}, timeout=10)
    with_jwt = requests.get(
        f"{gateway.url}/api/v1/orders",
        headers={HEADER: forged, "Authorization": f"Bearer {mint(signing)}"},
        timeout=10,
    )

    assert (alone.status_code, with_jwt.status_code) == (200, 200)
    first, second = legacy.requests_to("/api/v1/orders")
    assert first.header(HEADER) is None  # a client's copy is stripped, whatever it says
    assert second.header(HEADER) != forged  # the gateway's own, for the JWT's user
    assert (
        verify_identity(
            second.header(HEADER), key=KEY, method="GET", path="/api/v1/orders", **NO_BODY
        ).user_id
        == 7
    )


@pytest.mark.e2e
def test_through_the_gateway_an_expired_jwt_is_a_401_and_nothing_is_forwarded(jwt_gateway, signing):
    gateway, legacy, _ = jwt_gateway

    answer = requests.get(
        f"{gateway.url}/api/v1/orders",
        headers={"Authorization": f"Bearer {mint(signing, now=time.time() - 3600)}"},
        timeout=10,
    )

    assert answer.status_code == 401
    assert answer.json()["code"] == "token_expired"
    assert set(answer.json()) == {"code", "message", "extra"}
    assert legacy.requests_to("/api/v1/orders") == []


# --- LoginStickiness ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"username": " Alice@Example.com ", "password": "x"}', "alice@example.com"),
        (b'{"password": "x"}', None),
        (b'["alice"]', None),
        (b"not json", None),
        (b'{"username": "' + b"a" * 20_000 + b'"}', None),
    ],
)
def test_a_login_is_bucketed_by_the_username_of_its_json_body(body, expected):
    request = tutils.treq(method=b"POST", path=b"/api/v1/accounts/login", content=body)

    assert login_username(request) == expected
