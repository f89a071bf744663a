import pytest

from chassis.settings import DEV_INTERNAL_API_TOKEN


def test_an_internal_endpoint_answers_the_right_bearer_token(client):
    response = client.get("/internal/ping", HTTP_AUTHORIZATION=f"Bearer {DEV_INTERNAL_API_TOKEN}")
    assert (response.status_code, response.json()) == (200, {"pong": True})


@pytest.mark.parametrize(
    ("authorization", "code"),
    [
        (None, "not_authenticated"),
        ("Token " + DEV_INTERNAL_API_TOKEN, "not_authenticated"),
        ("Bearer wrong-token", "authentication_failed"),
        ("Bearer", "authentication_failed"),
        (f"Bearer {DEV_INTERNAL_API_TOKEN} extra", "authentication_failed"),
        ("Bearer " + DEV_INTERNAL_API_TOKEN[:-1], "authentication_failed"),
    ],
)
def test_an_internal_endpoint_refuses_a_missing_or_wrong_token_with_401(client, authorization, code):
    headers = {"HTTP_AUTHORIZATION": authorization} if authorization else {}
    response = client.get("/internal/ping", **headers)
    assert response.status_code == 401
    assert response.json()["code"] == code
    assert set(response.json()) == {"code", "message", "extra"}
    assert response["WWW-Authenticate"] == 'Bearer realm="internal"'


def test_the_token_is_the_one_in_settings(client, settings):
    settings.INTERNAL_API_TOKEN = "rotated-token"
    old = client.get("/internal/ping", HTTP_AUTHORIZATION=f"Bearer {DEV_INTERNAL_API_TOKEN}")
    new = client.get("/internal/ping", HTTP_AUTHORIZATION="Bearer rotated-token")
    assert (old.status_code, new.status_code) == (401, 200)
