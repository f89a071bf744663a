"""Bad input the schemathesis / hand-crafted fuzzing of the served auth service turned into 500s: each is
now a 4xx (ours in {"code","message","extra"} form, DOT's in RFC 6749 form)."""

import base64
from urllib.parse import parse_qs, urlparse

import pytest
from django.conf import settings

from legacy_monolith.demo.processes import free_port

from .test_exchange import exchange, web_app  # noqa: F401 (fixture)
from .test_oauth_flows import (  # noqa: F401 (fixtures)
    REDIRECT_URI,
    Application,
    code_from,
    log_in,
    pkce_pair,
    service_client,
    token_request,
    web_client,
)

DEEP_JSON = b"[" * 100_000 + b"]" * 100_000


@pytest.fixture
def no_monolith(settings):
    """Nothing listens here: a credential that reached the monolith would be a 503, not the 4xx asserted."""
    settings.MONOLITH_URL = f"http://127.0.0.1:{free_port()}"


@pytest.mark.parametrize(
    "body",
    [
        {"legacy_token": "t\U000a27c3k"},  # not latin-1: could not go into the Authorization header
        {"legacy_token": "tok\r\nX-Injected: 1"},
        {"legacy_session": "a;b"},
        {"legacy_session": "s\u00e9ssion"},
    ],
)
def test_a_legacy_credential_that_is_no_token_is_a_400(api_client, web_app, no_monolith, body):  # noqa: F811
    answer = exchange(api_client, client_id=web_app.client_id, **body)
    assert answer.status_code == 400, answer.content
    assert answer.json()["code"] == "validation_error"
    assert set(answer.json()) == {"code", "message", "extra"}


def test_a_garbled_legacy_session_cookie_is_refused_without_asking_the_monolith(
    api_client,
    web_app,  # noqa: F811
    no_monolith,
):
    answer = api_client.post(
        "/api/v1/auth/token/exchange",
        {"client_id": web_app.client_id},
        format="json",
        HTTP_COOKIE="sessionid=\xff\xfe\x01",
    )
    assert (answer.status_code, answer.json()["code"]) == (401, "invalid_legacy_credential")


@pytest.mark.parametrize(
    "path", ["/api/v1/auth/login", "/api/v1/accounts/login", "/api/v1/auth/token/exchange"]
)
def test_json_nested_too_deeply_is_a_400_parse_error(api_client, db, path):
    answer = api_client.post(path, data=DEEP_JSON, content_type="application/json")
    assert answer.status_code == 400, answer.content
    assert set(answer.json()) == {"code", "message", "extra"}


def test_json_nested_too_deeply_is_a_400_on_the_internal_api_too(api_client, db):
    answer = api_client.post(
        "/internal/v1/import/users",
        data=DEEP_JSON,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {settings.INTERNAL_API_TOKEN}",
    )
    assert answer.status_code == 400, answer.content


@pytest.mark.parametrize(
    "authorization",
    [
        "Basic \xff\xfe",  # not ASCII: no base64 at all
        "Basic " + base64.b64encode(b"\xff\xfe:\xc3\x28").decode(),  # base64 of invalid UTF-8
        "Basic !!!",
        "Basic",
    ],
)
def test_a_garbage_basic_credential_is_invalid_client(browser, service_client, authorization):  # noqa: F811
    answer = browser.post("/o/token", {"grant_type": "client_credentials"}, HTTP_AUTHORIZATION=authorization)
    assert answer.status_code in (400, 401), answer.content
    assert answer.json()["error"] == "invalid_client"


@pytest.mark.parametrize("code", ["\x00", "abc\x00def"])
def test_an_authorization_code_with_a_nul_byte_is_invalid_grant(browser, web_client, code):  # noqa: F811
    answer = token_request(
        browser,
        grant_type="authorization_code",
        client_id=web_client.client_id,
        code=code,
        redirect_uri="https://shop.techstore.example/callback",
        code_verifier="a" * 50,
    )
    assert (answer.status_code, answer.json()["error"]) == (400, "invalid_grant")


def authorize_query(client, **extra) -> dict:
    _, challenge = pkce_pair()
    return {
        "response_type": "code",
        "client_id": client.client_id,
        "redirect_uri": REDIRECT_URI,
        "scope": "openid read",
        "state": "state-1",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        **extra,
    }


def error_of(answer) -> str:
    assert answer.status_code == 302, answer.content
    location = urlparse(answer["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT_URI
    return parse_qs(location.query)["error"][0]


@pytest.mark.parametrize(
    "extra", [{"code_challenge": "\x00"}, {"code_challenge": "short"}, {"nonce": "n\x00nce"}]
)
def test_a_malformed_code_challenge_or_nonce_is_an_invalid_request_redirect(
    browser,
    web_client,  # noqa: F811
    make_user,
    extra,
):
    log_in(browser, make_user())
    answer = browser.get("/o/authorize", authorize_query(web_client, **extra))
    assert error_of(answer) == "invalid_request"


def test_prompt_none_gives_a_first_party_client_its_code_silently(browser, web_client, make_user):  # noqa: F811
    log_in(browser, make_user())
    assert code_from(browser.get("/o/authorize", authorize_query(web_client, prompt="none")))


def test_prompt_none_is_consent_required_for_a_client_with_a_consent_screen(browser, web_client, make_user):  # noqa: F811
    Application.objects.filter(pk=web_client.pk).update(skip_authorization=False)
    log_in(browser, make_user())
    answer = browser.get("/o/authorize", authorize_query(web_client, prompt="none"))
    assert error_of(answer) == "consent_required"


@pytest.mark.parametrize("path", ["/o/token", "/o/revoke", "/o/userinfo"])
def test_a_form_body_declared_in_another_charset_is_a_400(browser, db, path):
    """Django refuses a non-UTF-8 form body (BadRequest): our JSON 400. (Served with DEBUG=true, Django's
    own debug page re-reads the body and gunicorn answers 500: a DEBUG-only artefact.)"""
    answer = browser.post(
        path, data=b"token=x", content_type="application/x-www-form-urlencoded; charset=utf-16"
    )
    assert (answer.status_code, answer.json()["code"]) == (400, "bad_request")


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/auth/login", {"username": 12345, "password": "secret-pass"}),
        ("/api/v1/auth/login", {"username": "   ", "password": "secret-pass"}),
        ("/api/v1/accounts/login", {"username": "someone", "password": 12345678}),
        ("/api/v1/auth/token/exchange", {"client_id": 7, "legacy_token": "abc"}),
    ],
)
def test_credential_bodies_take_json_strings_only(api_client, db, no_monolith, path, body):
    """A number is not coerced into a username or password (DRF would make 12345 "12345"), and a blank
    username is refused: the 400 the schema now says (schemathesis, issue 12)."""
    answer = api_client.post(path, body, format="json")
    assert answer.status_code == 400
    assert answer.json()["code"] == "validation_error"
