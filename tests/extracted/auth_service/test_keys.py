import json
import os
import subprocess
import sys
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from chassis.settings import BASE_DIR
from extracted.auth_service import keys
from extracted.auth_service.audit import Event
from extracted.auth_service.models import AuditEntry, KeyState, SigningKey
from kernel import crypto


def test_the_first_signing_key_is_made_on_first_use_and_stored_sealed(db):
    material = keys.signing_key_active()
    row = SigningKey.objects.get()
    assert (row.kid, row.state) == (material.kid, KeyState.ACTIVE)
    assert row.sealed_private_key.startswith(crypto.SEALED_PREFIX)
    assert "PRIVATE" not in row.sealed_private_key
    assert "d" not in row.public_jwk
    assert row.kid == crypto.thumbprint(row.public_jwk)
    assert keys.signing_key_active().kid == material.kid  # one active key, reused


def test_a_sealed_key_does_not_open_under_another_encryption_key(db, settings):
    row_kid = keys.signing_key_active().kid
    keys._private_cache.clear()
    settings.AUTH_KEY_ENCRYPTION_KEY = crypto.new_encryption_key()
    with pytest.raises(crypto.KeyMaterialError):
        keys._unseal(SigningKey.objects.get(kid=row_kid))


def test_rotation_makes_a_new_active_key_and_the_old_one_verifies_until_the_overlap_ends(db):
    old = keys.signing_key_active().kid
    rotation = keys.keys_rotate(overlap_seconds=600)
    assert rotation.retiring_kid == old
    assert keys.signing_key_active().kid == rotation.new_kid != old
    assert [k["kid"] for k in keys.jwks()["keys"]] == [rotation.new_kid, old]
    assert keys.verifying_public_key(old) is not None
    assert abs((rotation.verify_until - timezone.now() - timedelta(seconds=600)).total_seconds()) < 5

    SigningKey.objects.filter(kid=old).update(verify_until=timezone.now() - timedelta(seconds=1))
    assert keys.verifying_public_key(old) is None
    assert [k["kid"] for k in keys.jwks()["keys"]] == [rotation.new_kid]
    third = keys.keys_rotate(overlap_seconds=60)
    assert third.retired == [old]
    assert SigningKey.objects.get(kid=old).state == KeyState.RETIRED
    assert AuditEntry.objects.filter(event=Event.KEYS_ROTATED).count() == 3  # first key + two rotations


def test_a_token_of_a_rotated_key_is_accepted_during_the_overlap_and_refused_after(
    api_client, make_user, bearer
):
    user = make_user()
    old_token = bearer(user)
    keys.keys_rotate(overlap_seconds=600)
    api_client.credentials(HTTP_AUTHORIZATION=old_token)
    assert api_client.get("/api/v1/auth/me").status_code == 200
    api_client.credentials(HTTP_AUTHORIZATION=bearer(user))
    assert api_client.get("/api/v1/auth/me").status_code == 200  # signed by the new key

    keys.keys_rotate(overlap_seconds=0)  # the first key is now two rotations old and past its overlap
    SigningKey.objects.filter(state=KeyState.RETIRING).update(verify_until=timezone.now())
    api_client.credentials(HTTP_AUTHORIZATION=old_token)
    answer = api_client.get("/api/v1/auth/me")
    assert (answer.status_code, answer.json()["code"]) == (401, "unknown_kid")
    assert answer["WWW-Authenticate"].startswith("Bearer")


def test_the_rotate_command_takes_an_overlap_and_answers_json(db, capsys):
    first = keys.signing_key_active().kid
    call_command("auth", "keys", "rotate", "--overlap", "120", "--json")
    result = json.loads(capsys.readouterr().out)
    assert result["retiring_kid"] == first
    assert SigningKey.objects.get(kid=result["new_kid"]).state == KeyState.ACTIVE
    call_command("auth", "keys", "list", "--json")
    states = {row["kid"]: row["state"] for row in json.loads(capsys.readouterr().out)}
    assert states == {first: "retiring", result["new_kid"]: "active"}
    SigningKey.objects.filter(kid=first).update(verify_until=timezone.now())  # the overlap ended
    call_command("auth", "keys", "list", "--json")
    states = {row["kid"]: row["state"] for row in json.loads(capsys.readouterr().out)}
    assert states == {first: "retired", result["new_kid"]: "active"}


def settings_in_a_subprocess(env_overrides):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTH_")}
    env.update({"DJANGO_SETTINGS_MODULE": "extracted.auth_service.settings", **env_overrides})
    code = "import django; django.setup()"
    return subprocess.run([sys.executable, "-c", code], env=env, cwd=BASE_DIR, capture_output=True, text=True)


def test_production_refuses_the_development_key_encryption_key_and_oidc_key(tmp_path):
    refused = settings_in_a_subprocess(
        {
            "DEBUG": "false",
            "SECRET_KEY": "s" * 50,
            "INTERNAL_API_TOKEN": "t" * 40,
            "STRANGLER_VAR_DIR": str(tmp_path),
        }
    )
    assert refused.returncode != 0
    assert "AUTH_KEY_ENCRYPTION_KEY, AUTH_OIDC_RSA_PRIVATE_KEY" in refused.stderr


def test_a_malformed_key_encryption_key_stops_the_service_at_start(tmp_path):
    refused = settings_in_a_subprocess(
        {"AUTH_KEY_ENCRYPTION_KEY": "too-short", "STRANGLER_VAR_DIR": str(tmp_path)}
    )
    assert refused.returncode != 0
    assert "AUTH_KEY_ENCRYPTION_KEY" in refused.stderr
