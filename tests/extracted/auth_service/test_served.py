"""The auth service as real processes: `python -m extracted.auth_service migrate`, `auth clients create`,
`serve` (gunicorn, 2 workers), then `auth keys rotate` and `auth audit verify` while it serves."""

import base64
import hashlib
import json
import os
import secrets
import subprocess
from urllib.parse import parse_qs, urlparse

import pytest
import requests

from contracts.jwks import JwksCache
from contracts.tokens import InvalidToken, verify_access_token
from kernel.crypto import new_encryption_key
from legacy_monolith.demo.processes import free_port, python_argv, service_manage, service_process

from .conftest import throwaway_database

SERVICE = "extracted.auth_service"
ISSUER = "https://auth.techstore.test"
OPS_PASSWORD = "ops passphrase 1"
REDIRECT_URI = "https://shop.techstore.test/callback"


def cli(env, *args) -> subprocess.CompletedProcess:
    return subprocess.run(
        python_argv("-m", SERVICE, *args), env=env, capture_output=True, text=True, timeout=120
    )


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """The service under gunicorn on its own throwaway PostgreSQL database, with a real encryption key."""
    tmp = tmp_path_factory.mktemp("auth-serve")
    with throwaway_database("auth_serve") as database_url:
        env = {
            **os.environ,
            "AUTH_DATABASE_URL": database_url,
            "AUTH_ISSUER": ISSUER,
            "AUTH_ACCESS_TOKEN_TTL_SECONDS": "120",
            "AUTH_KEY_ENCRYPTION_KEY": new_encryption_key(),
            "STRANGLER_VAR_DIR": str(tmp / "var"),
            "PROMETHEUS_MULTIPROC_DIR": str(tmp / "prom"),
        }
        env.pop("REDIS_URL", None)
        env.pop("BROKER_URL", None)
        service_manage("auth_service", "migrate", "--noinput", "-v0", env=env)
        created = service_manage(
            "auth_service", "auth", "clients", "create", "order-service", "--grant", "client-credentials",
            "--confidential", "--json", env=env,
        )  # fmt: skip
        service_manage(
            "auth_service", "createsuperuser", "--noinput", "--username", "ops",
            "--email", "ops@techstore.test", env={**env, "DJANGO_SUPERUSER_PASSWORD": OPS_PASSWORD},
        )  # fmt: skip
        port = free_port()
        with service_process("auth_service", port=port, env=env, log_path=tmp / "service.log"):
            yield f"http://127.0.0.1:{port}", env, json.loads(created.stdout)


def client_token(url, client) -> str:
    answer = requests.post(
        f"{url}/o/token",
        data={"grant_type": "client_credentials", "scope": "read"},
        auth=(client["client_id"], client["client_secret"]),
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["expires_in"] == 120  # AUTH_ACCESS_TOKEN_TTL_SECONDS
    return answer.json()["access_token"]


def verify_with_jwks(url, token, cache=None):
    """Verify as a resource server does: keys from the served JWKS, through the resource servers' cache."""
    cache = cache or JwksCache(f"{url}/.well-known/jwks.json", min_refetch_seconds=0)
    return verify_access_token(token, key_for_kid=cache.key_for_kid, issuer=ISSUER, audience="techstore")


def test_a_client_credentials_token_from_the_served_service_verifies_from_its_jwks(served):
    url, _, client = served
    claims = verify_with_jwks(url, client_token(url, client))
    assert claims.claims["exp"] - claims.claims["iat"] == 120
    assert claims.subject == f"client:{client['client_id']}"
    me = requests.get(
        f"{url}/api/v1/auth/me", headers={"Authorization": f"Bearer {client_token(url, client)}"}, timeout=5
    )
    assert (me.status_code, me.json()["client_id"]) == (200, client["client_id"])


def test_rotating_keys_while_serving_keeps_old_tokens_valid_through_their_overlap_only(served):
    url, env, client = served
    before = client_token(url, client)
    cache = JwksCache(f"{url}/.well-known/jwks.json", min_refetch_seconds=0)
    verify_with_jwks(url, before, cache)
    rotated = cli(env, "auth", "keys", "rotate", "--overlap", "600", "--json")
    assert rotated.returncode == 0, rotated.stderr
    rotation = json.loads(rotated.stdout)
    after = client_token(url, client)
    assert verify_with_jwks(url, before).kid == rotation["retiring_kid"]
    assert verify_with_jwks(url, after).kid == rotation["new_kid"]  # every worker signs with the new key
    assert (
        verify_with_jwks(url, after, cache).kid == rotation["new_kid"]
    )  # the cache refetched for the new kid
    assert cache.fetches == 2

    # A rotation without overlap retires the key it replaces at once; the first key is still in its overlap.
    assert cli(env, "auth", "keys", "rotate", "--overlap", "0").returncode == 0
    with pytest.raises(InvalidToken) as refused:
        verify_with_jwks(url, after)
    assert refused.value.code == "unknown_kid"
    me = requests.get(f"{url}/api/v1/auth/me", headers={"Authorization": f"Bearer {after}"}, timeout=5)
    assert (me.status_code, me.json()["code"]) == (401, "unknown_kid")
    assert verify_with_jwks(url, before).kid == rotation["retiring_kid"]


def test_a_browser_logs_in_and_runs_the_authorization_code_flow_across_gunicorn_workers(served):
    url, env, _ = served
    web = json.loads(
        cli(env, "auth", "clients", "create", "web", "--grant", "authorization-code",
            "--redirect-uri", REDIRECT_URI, "--json").stdout
    )  # fmt: skip
    browser = requests.Session()
    login = browser.post(
        f"{url}/api/v1/auth/login", json={"username": "ops", "password": OPS_PASSWORD}, timeout=10
    )
    assert login.status_code == 200, login.text
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    authorized = browser.get(
        f"{url}/o/authorize",
        params={"response_type": "code", "client_id": web["client_id"], "redirect_uri": REDIRECT_URI,
                "scope": "openid read", "code_challenge": challenge, "code_challenge_method": "S256"},
        allow_redirects=False,
        timeout=10,
    )  # fmt: skip
    assert authorized.status_code == 302, authorized.text
    code = parse_qs(urlparse(authorized.headers["Location"]).query)["code"][0]
    tokens = requests.post(
        f"{url}/o/token",
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI,
              "client_id": web["client_id"], "code_verifier": verifier},
        timeout=10,
    )  # fmt: skip
    assert tokens.status_code == 200, tokens.text
    claims = verify_with_jwks(url, tokens.json()["access_token"])
    assert claims.client_id == web["client_id"]
    assert tokens.json()["id_token"]


def test_the_audit_chain_of_the_served_service_verifies(served):
    url, env, client = served
    client_token(url, client)
    verified = cli(env, "auth", "audit", "verify", "--json")
    assert verified.returncode == 0, verified.stderr
    assert json.loads(verified.stdout)["ok"] is True
    assert json.loads(verified.stdout)["entries"] >= 1
