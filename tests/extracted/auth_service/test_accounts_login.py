"""The cutover login: the monolith's POST /api/v1/accounts/login and /tokens answered by the auth service
(routes.yaml `auth.login`), the same request body, a JWT pair instead of a session or an opaque token."""

from django.conf import settings
from django.contrib.auth.hashers import identify_hasher

from contracts.tokens import verify_access_token
from extracted.auth_service import keys
from extracted.auth_service.models import User

from .conftest import PASSWORD
from .test_oauth_flows import refresh


def post(api_client, kind, username, password, **extra):
    return api_client.post(
        f"/api/v1/accounts/{kind}", {"username": username, "password": password, **extra}, format="json"
    )


def verify(token):
    return verify_access_token(
        token,
        key_for_kid=keys.verifying_public_key,
        issuer=settings.AUTH_ISSUER,
        audience=settings.AUTH_AUDIENCE,
    )


def test_a_synced_user_logs_in_at_the_monolith_path_and_gets_a_jwt_pair(api_client, web_client, make_user):
    user = make_user(legacy=True, role="staff")

    answer = post(api_client, "login", user.username, PASSWORD)

    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert body["user"]["id"] == user.legacy_user_id  # the monolith's id, as the client knew it
    assert body["token_type"] == "Bearer"
    assert answer["Cache-Control"] == "no-store"
    claims = verify(body["access_token"])
    assert (claims.legacy_user_id, claims.roles, claims.client_id) == (user.legacy_user_id, ("staff",), "web")
    assert identify_hasher(User.objects.get(pk=user.pk).password).algorithm == "argon2"  # upgraded


def test_the_login_pairs_refresh_token_rotates_at_the_token_endpoint(
    browser, api_client, web_client, make_user
):
    user = make_user(legacy=True)
    first = post(api_client, "login", user.username, PASSWORD).json()

    answer = refresh(browser, web_client, first["refresh_token"])

    assert answer.status_code == 200, answer.content
    assert answer.json()["refresh_token"] != first["refresh_token"]
    assert verify(answer.json()["access_token"]).legacy_user_id == user.legacy_user_id


def test_the_tokens_path_answers_the_legacy_token_shape_with_the_access_jwt(
    api_client, web_client, make_user
):
    user = make_user(legacy=True)

    answer = post(api_client, "tokens", user.email, PASSWORD, name="cli")

    assert answer.status_code == 201, answer.content
    body = answer.json()
    assert {"token", "expires_at", "name", "prefix", "refresh_token", "token_type"} <= set(body)
    assert (body["name"], body["prefix"]) == ("cli", body["token"][:8])
    assert verify(body["token"]).legacy_user_id == user.legacy_user_id


def test_a_wrong_password_at_the_monolith_path_is_a_401_and_counts_toward_lockout(
    api_client, web_client, make_user
):
    user = make_user(legacy=True)

    answers = [
        post(api_client, "login", user.username, "wrong") for _ in range(settings.AUTH_LOCKOUT_THRESHOLD)
    ]

    assert answers[0].json()["code"] == "invalid_credentials"
    assert (answers[-1].status_code, answers[-1].json()["code"]) == (423, "account_locked")


def test_without_the_login_client_the_login_is_a_clear_400(api_client, make_user):
    user = make_user(legacy=True)

    answer = post(api_client, "login", user.username, PASSWORD)

    assert (answer.status_code, answer.json()["code"]) == (400, "invalid_client")
