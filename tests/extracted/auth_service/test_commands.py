import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from oauth2_provider.models import get_application_model

Application = get_application_model()


def run(*args) -> dict:
    out = StringIO()
    call_command("auth", *args, "--json", stdout=out)
    return json.loads(out.getvalue())


def test_clients_create_registers_a_public_pkce_client_without_consent_screen(db):
    result = run(
        "clients", "create", "web", "--grant", "authorization-code", "--redirect-uri", "techstore://cb"
    )
    app = Application.objects.get(client_id=result["client_id"])
    assert result["client_secret"] is None
    assert (app.client_type, app.authorization_grant_type) == (
        Application.CLIENT_PUBLIC,
        "authorization-code",
    )
    assert (app.skip_authorization, app.algorithm, app.redirect_uris) == (True, "RS256", "techstore://cb")


def test_clients_create_shows_a_confidential_client_s_secret_once_and_stores_it_hashed(db):
    result = run("clients", "create", "orders", "--grant", "client-credentials", "--confidential")
    app = Application.objects.get(client_id=result["client_id"])
    assert result["client_secret"]
    assert app.client_secret != result["client_secret"]  # hashed at rest


@pytest.mark.parametrize(
    "args",
    [
        ["clients", "create", "web", "--grant", "authorization-code"],  # no redirect uri
        ["clients", "create", "svc", "--grant", "client-credentials"],  # not confidential
        ["keys", "rotate", "--overlap", "-1"],
    ],
)
def test_commands_refuse_incomplete_or_impossible_requests(db, args):
    with pytest.raises(CommandError):
        call_command("auth", *args)


def test_the_openapi_schema_validates_without_warnings(db, tmp_path):
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))
    schema = (tmp_path / "schema.yaml").read_text()
    assert "/api/v1/auth/token/exchange:" in schema
    assert "bearerJwt" in schema


def test_an_unknown_path_is_a_json_404(api_client, settings):
    settings.DEBUG = False
    answer = api_client.get("/no/such/path")
    assert (answer.status_code, answer.json()["code"]) == (404, "not_found")


def test_clients_create_with_a_fixed_client_id_is_idempotent_with_if_missing(db):
    """The deployments' bootstrap job creates the login cutover's client (AUTH_LOGIN_CLIENT_ID) on every
    start: the first run makes it, the next ones leave it (and its redirect URIs) alone."""
    args = ["clients", "create", "web", "--grant", "authorization-code", "--redirect-uri", "https://a/cb"]
    first = run(*args, "--client-id", "web", "--if-missing")
    again = run(*args[:-1], "https://b/cb", "--client-id", "web", "--if-missing")
    assert (first["client_id"], first["created"], again["created"]) == ("web", True, False)
    assert Application.objects.get(client_id="web").redirect_uris == "https://a/cb"
    with pytest.raises(CommandError, match="already exists"):
        call_command("auth", *args, "--client-id", "web")
    with pytest.raises(CommandError, match="needs --client-id"):
        call_command("auth", *args, "--if-missing")
