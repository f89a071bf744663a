"""Request bodies the monolith cannot decode are a 400 with our error body, never a 500."""

import pytest


@pytest.mark.django_db
@pytest.mark.parametrize("body", ["[" * 50_000 + "]" * 50_000, '{"a":' * 20_000 + "1" + "}" * 20_000])
def test_a_body_nested_deeper_than_the_decoder_can_recurse_is_a_400_malformed_request(api_client, body):
    response = api_client.post("/api/v1/accounts/login", data=body, content_type="application/json")

    assert response.status_code == 400
    assert response.json()["code"] == "malformed_request"
