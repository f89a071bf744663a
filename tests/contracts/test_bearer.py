"""contracts.tokens.bearer_token: the one reading of `Authorization: Bearer …` every resource server uses,
with the scheme matched in any case like the gateway's (strangler_proxy.jwt_auth.read_bearer)."""

import pytest
from mitmproxy.test import tutils

from contracts.tokens import bearer_token
from strangler_proxy.jwt_auth import read_bearer


@pytest.mark.parametrize(
    ("value", "token"),
    [
        ("Bearer abc", "abc"),
        ("bearer abc", "abc"),
        ("BEARER abc", "abc"),
        ("  Bearer   abc  ", "abc"),
        ("Bearer", None),
        ("Bearer   ", None),
        ("Token abc", None),
        ("Bearerabc", None),
        ("", None),
        ("Basic YTpi", None),
    ],
)
def test_the_token_follows_the_bearer_scheme_in_any_case(value, token):
    assert bearer_token(value) == token


@pytest.mark.parametrize("value", ["Bearer abc", "bearer abc", "BEARER abc", "Token abc", "Basic x", ""])
def test_a_service_reads_a_bearer_token_wherever_the_gateway_does(value):
    request = tutils.treq(headers=((b"Authorization", value.encode()),) if value else ())
    assert (bearer_token(value) is not None) == bool(read_bearer(request))
