"""Every grant end to end through django-oauth-toolkit's real endpoints, with our ES256 access tokens
verified from the published JWKS only (as a resource server would)."""

import base64
import hashlib
import json
import secrets
from urllib.parse import parse_qs, urlparse

import jwt
import pytest
from django.conf import settings
from oauth2_provider.models import get_application_model

from contracts.tokens import verify_access_token
from extracted.auth_service.audit import Event
from extracted.auth_service.models import AuditEntry, Role
from kernel.crypto import public_key_from_jwk

from .conftest import PASSWORD

Application = get_application_model()
REDIRECT_URI = "https://shop.techstore.example/callback"


def web_client_create():
    """A first-party public client (SPA or mobile app): authorization code + PKCE, no consent screen."""
    return Application.objects.create(
        name="web",
        client_type=Application.CLIENT_PUBLIC,
        authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
        redirect_uris=REDIRECT_URI,
        client_secret="",
        skip_authorization=True,
        algorithm=Application.RS256_ALGORITHM,
    )


@pytest.fixture
def web_client(db):
    return web_client_create()


@pytest.fixture
def service_client(db):
    secret = secrets.token_urlsafe(32)
    app = Application.objects.create(
        name="order-service",
        client_type=Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Application.GRANT_CLIENT_CREDENTIALS,
        client_secret=secret,
    )
    return app, secret


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def authorize(browser, client, *, challenge, method="S256", scope="openid profile email read"):
    query = {
        "response_type": "code",
        "client_id": client.client_id,
        "redirect_uri": REDIRECT_URI,
        "scope": scope,
        "state": "state-1",
        "nonce": "nonce-1",
    }
    if challenge is not None:
        query |= {"code_challenge": challenge, "code_challenge_method": method}
    return browser.get("/o/authorize", query)


def log_in(browser, user):
    answer = browser.post(
        "/api/v1/auth/login",
        {"username": user.username, "password": PASSWORD},
        content_type="application/json",
    )
    assert answer.status_code == 200


def code_from(answer) -> str:
    assert answer.status_code == 302, answer.content
    location = urlparse(answer["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT_URI
    query = parse_qs(location.query)
    assert query["state"] == ["state-1"]
    return query["code"][0]


def token_request(browser, **form):
    return browser.post("/o/token", form)


def code_flow(browser, client, user, *, verifier: str | None = None):
    """Log in, authorize with a PKCE challenge, redeem the code with `verifier` (default: the right one)."""
    log_in(browser, user)
    right_verifier, challenge = pkce_pair()
    code = code_from(authorize(browser, client, challenge=challenge))
    return token_request(
        browser,
        grant_type="authorization_code",
        code=code,
        redirect_uri=REDIRECT_URI,
        client_id=client.client_id,
        code_verifier=verifier or right_verifier,
    )


def code_flow_tokens(browser, client, user) -> dict:
    answer = code_flow(browser, client, user)
    assert answer.status_code == 200, answer.content
    return answer.json()


def jwks_keys(browser) -> dict:
    answer = browser.get("/.well-known/jwks.json")
    assert answer.status_code == 200
    return {key["kid"]: key for key in answer.json()["keys"]}


def verify_like_a_resource_server(browser, token):
    published = {kid: key for kid, key in jwks_keys(browser).items() if key["alg"] == "ES256"}
    return verify_access_token(
        token,
        key_for_kid=lambda kid: public_key_from_jwk(published[kid]) if kid in published else None,
        issuer=settings.AUTH_ISSUER,
        audience=settings.AUTH_AUDIENCE,
    )


def test_authorization_code_with_pkce_gives_an_es256_access_token_an_id_token_and_a_refresh_token(
    browser, web_client, make_user
):
    user = make_user(role=Role.STAFF, legacy_user_id=4242)

    tokens = code_flow_tokens(browser, web_client, user)

    assert tokens["token_type"] == "Bearer"
    assert tokens["expires_in"] == settings.AUTH_ACCESS_TOKEN_TTL_SECONDS
    assert tokens["refresh_token"]
    claims = verify_like_a_resource_server(browser, tokens["access_token"])
    assert (claims.subject, claims.roles, claims.legacy_user_id) == (str(user.pk), ("staff",), 4242)
    assert set(claims.scopes) == {"openid", "profile", "email", "read"}
    assert claims.client_id == web_client.client_id

    id_header = jwt.get_unverified_header(tokens["id_token"])
    assert id_header["alg"] == "RS256"  # django-oauth-toolkit signs id_tokens RS256 (see the README part)
    rsa_key = jwt.PyJWK(jwks_keys(browser)[id_header["kid"]]).key
    id_claims = jwt.decode(
        tokens["id_token"],
        rsa_key,
        algorithms=["RS256"],
        audience=web_client.client_id,
        issuer=settings.AUTH_ISSUER,
    )
    assert id_claims["sub"] == str(user.pk)
    assert id_claims["nonce"] == "nonce-1"
    assert (id_claims["roles"], id_claims["legacy_user_id"], id_claims["email"]) == (
        ["staff"],
        4242,
        user.email,
    )

    issued = AuditEntry.objects.get(event=Event.TOKEN_ISSUED, user_id=user.pk)
    assert (issued.client_id, issued.data["grant_type"]) == (web_client.client_id, "authorization_code")


def test_userinfo_and_the_me_endpoint_accept_the_access_token(browser, api_client, web_client, make_user):
    user = make_user()
    tokens = code_flow_tokens(browser, web_client, user)
    info = browser.get("/o/userinfo", HTTP_AUTHORIZATION=f"Bearer {tokens['access_token']}")
    assert info.status_code == 200
    assert (info.json()["sub"], info.json()["email"], info.json()["roles"]) == (
        str(user.pk),
        user.email,
        ["customer"],
    )
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access_token']}")
    me = api_client.get("/api/v1/auth/me")
    assert me.status_code == 200
    assert (me.json()["sub"], me.json()["legacy_user_id"]) == (str(user.pk), user.legacy_user_id)


def test_authorize_without_a_session_sends_the_caller_to_the_login_endpoint(browser, web_client):
    answer = authorize(browser, web_client, challenge=pkce_pair()[1])
    assert answer.status_code == 302
    assert answer["Location"].startswith("/api/v1/auth/login?next=/o/authorize")
    login_page = browser.get(answer["Location"])
    assert (login_page.status_code, login_page.json()["code"]) == (401, "login_required")
    assert login_page.json()["extra"]["next"].startswith("/o/authorize?")


@pytest.mark.parametrize(("challenge", "method"), [(None, None), ("x" * 43, "plain")])
def test_authorize_refuses_a_request_without_pkce_or_with_plain_pkce(
    browser, web_client, make_user, challenge, method
):
    log_in(browser, make_user())
    answer = authorize(browser, web_client, challenge=challenge, method=method)
    assert answer.status_code in (302, 400)
    if answer.status_code == 302:
        query = parse_qs(urlparse(answer["Location"]).query)
        assert query["error"] == ["invalid_request"]
        assert "code" not in query


def test_a_wrong_code_verifier_gets_no_token(browser, web_client, make_user):
    answer = code_flow(browser, web_client, make_user(), verifier=pkce_pair()[0])
    assert (answer.status_code, answer.json()["error"]) == (400, "invalid_grant")


def test_client_credentials_give_a_service_token_without_user_roles_or_refresh_token(browser, service_client):
    app, secret = service_client
    answer = token_request(
        browser, grant_type="client_credentials", client_id=app.client_id, client_secret=secret, scope="read"
    )
    assert answer.status_code == 200, answer.content
    tokens = answer.json()
    assert "refresh_token" not in tokens
    claims = verify_like_a_resource_server(browser, tokens["access_token"])
    assert (claims.subject, claims.roles, claims.legacy_user_id) == (f"client:{app.client_id}", (), None)
    assert claims.scopes == ("read",)
    issued = AuditEntry.objects.get(event=Event.TOKEN_ISSUED, client_id=app.client_id)
    assert issued.data["grant_type"] == "client_credentials"


def test_client_credentials_with_a_wrong_secret_are_refused(browser, service_client):
    app, _ = service_client
    answer = token_request(
        browser, grant_type="client_credentials", client_id=app.client_id, client_secret="nope"
    )
    assert (answer.status_code, answer.json()["error"]) == (401, "invalid_client")


def refresh(browser, client, refresh_token):
    return token_request(
        browser, grant_type="refresh_token", refresh_token=refresh_token, client_id=client.client_id
    )


def test_a_refresh_rotates_the_refresh_token_and_issues_a_new_access_token(browser, web_client, make_user):
    user = make_user()
    first = code_flow_tokens(browser, web_client, user)
    answer = refresh(browser, web_client, first["refresh_token"])
    assert answer.status_code == 200, answer.content
    second = answer.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    claims = verify_like_a_resource_server(browser, second["access_token"])
    assert (claims.subject, claims.roles) == (str(user.pk), ("customer",))
    assert AuditEntry.objects.filter(event=Event.TOKEN_REFRESHED, user_id=user.pk).count() == 1


def test_a_replayed_refresh_token_is_refused_and_revokes_its_whole_family(browser, web_client, make_user):
    user = make_user()
    first = code_flow_tokens(browser, web_client, user)
    second = refresh(browser, web_client, first["refresh_token"]).json()

    replay = refresh(browser, web_client, first["refresh_token"])

    assert (replay.status_code, replay.json()["error"]) == (400, "invalid_grant")
    # The thief or the client holding the newest token: either way the family is dead.
    after = refresh(browser, web_client, second["refresh_token"])
    assert (after.status_code, after.json()["error"]) == (400, "invalid_grant")
    reuses = list(AuditEntry.objects.filter(event=Event.REFRESH_REUSED))  # the replay, then the revoked heir
    assert [(r.user_id, r.outcome, r.reason) for r in reuses] == [
        (user.pk, "refused", "refresh_token_reused")
    ] * 2
    assert reuses[0].data["token_family"] == reuses[1].data["token_family"]


def test_a_revoked_refresh_token_cannot_refresh_and_the_revocation_is_audited(browser, web_client, make_user):
    tokens = code_flow_tokens(browser, web_client, make_user())
    answer = browser.post(
        "/o/revoke",
        {
            "token": tokens["refresh_token"],
            "token_type_hint": "refresh_token",
            "client_id": web_client.client_id,
        },
    )
    assert answer.status_code == 200
    assert AuditEntry.objects.filter(event=Event.TOKEN_REVOKED, client_id=web_client.client_id).exists()
    assert refresh(browser, web_client, tokens["refresh_token"]).status_code == 400


def test_oidc_discovery_names_our_endpoints_the_jwks_and_s256_only(browser, db):
    answer = browser.get("/.well-known/openid-configuration")
    assert answer.status_code == 200
    document = answer.json()
    assert document["issuer"] == settings.AUTH_ISSUER
    assert document["jwks_uri"].endswith("/.well-known/jwks.json")
    assert document["token_endpoint"].endswith("/o/token")
    assert document["authorization_endpoint"].endswith("/o/authorize")
    assert document["userinfo_endpoint"].endswith("/o/userinfo")
    assert document["code_challenge_methods_supported"] == ["S256"]
    assert "RS256" in document["id_token_signing_alg_values_supported"]


def test_the_jwks_publishes_public_keys_only_with_a_short_cache_lifetime(browser, db):
    assert (
        f"max-age={settings.AUTH_JWKS_MAX_AGE_SECONDS},"
        in browser.get("/.well-known/jwks.json")["Cache-Control"]
    )
    keys = jwks_keys(browser).values()
    assert {key["alg"] for key in keys} == {"ES256", "RS256"}
    for key in keys:
        assert not {"d", "p", "q", "dp", "dq", "qi"} & set(key), json.dumps(key)
