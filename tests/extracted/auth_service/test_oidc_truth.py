"""The OIDC discovery document states only what the server does (checked with authlib's provider metadata
validation, an independent client library, and against the endpoints), and a failed PKCE verification
kills the authorization code."""

# ruff: noqa: F401, F811 -- `web_client` is test_oauth_flows' fixture, imported to be used here

import pytest
from authlib.oidc.discovery import OpenIDProviderMetadata

from .test_oauth_flows import (
    REDIRECT_URI,
    authorize,
    code_flow_tokens,
    code_from,
    log_in,
    pkce_pair,
    token_request,
    web_client,
)


def discovery(browser) -> dict:
    answer = browser.get("/.well-known/openid-configuration")
    assert answer.status_code == 200
    return answer.json()


def test_the_discovery_document_passes_an_independent_client_s_metadata_checks(browser, db):
    document = discovery(browser)
    OpenIDProviderMetadata(document).validate()  # raises on any missing or malformed field
    assert document["response_types_supported"] == ["code"]
    assert document["id_token_signing_alg_values_supported"] == ["RS256"]
    assert set(document["grant_types_supported"]) == {
        "authorization_code",
        "refresh_token",
        "client_credentials",
    }
    assert document["revocation_endpoint"].endswith("/o/revoke")
    assert "none" in document["token_endpoint_auth_methods_supported"]
    assert {"sub", "nonce", "preferred_username", "roles", "legacy_user_id"} <= set(
        document["claims_supported"]
    )


def test_every_claim_an_id_token_carries_is_advertised(browser, web_client, make_user):
    import jwt

    tokens = code_flow_tokens(browser, web_client, make_user())
    header = jwt.get_unverified_header(tokens["id_token"])
    claims = jwt.decode(tokens["id_token"], options={"verify_signature": False})
    document = discovery(browser)
    assert header["alg"] in document["id_token_signing_alg_values_supported"]
    assert set(claims) <= set(document["claims_supported"])


@pytest.mark.parametrize("response_type", ["code id_token", "id_token", "token", "code token"])
def test_response_types_that_are_not_advertised_are_refused(browser, web_client, make_user, response_type):
    log_in(browser, make_user())
    _, challenge = pkce_pair()
    answer = browser.get(
        "/o/authorize",
        {
            "response_type": response_type,
            "client_id": web_client.client_id,
            "redirect_uri": REDIRECT_URI,
            "scope": "openid",
            "nonce": "n",
            "state": "state-1",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        },
    )
    assert response_type not in discovery(browser)["response_types_supported"]
    location = answer.get("Location", "")
    assert answer.status_code in (302, 400)
    assert "code=" not in location
    assert "id_token=" not in location
    assert "access_token=" not in location


@pytest.mark.parametrize("wrong", ["another verifier", "no verifier"])
def test_a_failed_pkce_verification_invalidates_the_code(browser, web_client, make_user, wrong):
    log_in(browser, make_user())
    verifier, challenge = pkce_pair()
    code = code_from(authorize(browser, web_client, challenge=challenge))
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT_URI,
        "client_id": web_client.client_id,
    }
    if wrong == "another verifier":
        form["code_verifier"] = pkce_pair()[0]
    failed = token_request(browser, **form)
    assert failed.status_code == 400

    late = token_request(browser, **{**form, "code_verifier": verifier})  # the right one, afterwards
    assert (late.status_code, late.json()["error"]) == (400, "invalid_grant")
