from django.contrib.auth.hashers import identify_hasher

from extracted.auth_service.audit import Event
from extracted.auth_service.models import AuditEntry, User

from .conftest import PASSWORD
from .test_oauth_flows import code_flow_tokens, refresh, web_client_create


def login(api_client, username, password, **extra):
    return api_client.post(
        "/api/v1/auth/login", {"username": username, "password": password, **extra}, format="json"
    )


def test_a_new_password_is_hashed_with_argon2id(make_user):
    user = make_user()
    assert identify_hasher(user.password).algorithm == "argon2"
    assert user.password.startswith("argon2$argon2id$")


def test_a_monolith_pbkdf2_hash_logs_in_and_is_upgraded_to_argon2id_at_the_first_login(api_client, make_user):
    user = make_user(legacy=True)
    assert identify_hasher(user.password).algorithm == "pbkdf2_sha256"

    answer = login(api_client, user.username, PASSWORD)

    assert answer.status_code == 200
    assert answer.json()["user"]["legacy_user_id"] == user.legacy_user_id
    upgraded = User.objects.get(pk=user.pk).password
    assert upgraded.startswith("argon2$argon2id$")
    rehash = AuditEntry.objects.get(event=Event.PASSWORD_REHASHED, user_id=user.pk)
    assert rehash.data == {"from": "pbkdf2_sha256", "to": "argon2"}
    assert login(api_client, user.username, PASSWORD).status_code == 200  # the new hash verifies
    assert User.objects.get(pk=user.pk).password == upgraded  # and is not rehashed again
    assert AuditEntry.objects.filter(event=Event.PASSWORD_REHASHED).count() == 1


def test_a_wrong_password_keeps_the_legacy_hash_and_is_audited_with_its_reason(api_client, make_user):
    user = make_user(legacy=True)
    answer = login(api_client, user.username, "not-the-password")
    assert (answer.status_code, answer.json()["code"]) == (401, "invalid_credentials")
    assert User.objects.get(pk=user.pk).password == user.password
    entry = AuditEntry.objects.get(event=Event.LOGIN, user_id=user.pk)
    assert (entry.outcome, entry.reason, entry.username) == ("failed", "invalid_credentials", user.username)


def test_login_by_email_opens_a_session_and_is_audited(api_client, make_user):
    user = make_user()
    answer = login(api_client, user.email, PASSWORD)
    assert answer.status_code == 200
    assert "auth_sessionid" in answer.cookies
    assert AuditEntry.objects.filter(event=Event.LOGIN, outcome="ok", user_id=user.pk).exists()


def test_a_disabled_account_is_told_so_only_with_the_right_password(api_client, make_user):
    user = make_user(is_active=False)
    assert login(api_client, user.username, "wrong-password").json()["code"] == "invalid_credentials"
    answer = login(api_client, user.username, PASSWORD)
    assert (answer.status_code, answer.json()["code"]) == (403, "account_inactive")


def test_login_follows_only_a_next_that_continues_the_authorization_flow(api_client, make_user):
    user = make_user()
    inside = login(api_client, user.username, PASSWORD, next="/o/authorize?client_id=x").json()["next"]
    outside = login(api_client, user.username, PASSWORD, next="https://evil.example/o/authorize").json()[
        "next"
    ]
    assert (inside, outside) == ("/o/authorize?client_id=x", "")


def test_bad_login_input_is_a_validation_error(api_client, db):
    answer = api_client.post("/api/v1/auth/login", {"username": "x"}, format="json")
    assert (answer.status_code, answer.json()["code"]) == (400, "validation_error")


def test_a_password_change_needs_the_current_password_and_is_audited(api_client, make_user, bearer):
    user = make_user(legacy=True)
    api_client.credentials(HTTP_AUTHORIZATION=bearer(user))
    wrong = api_client.post(
        "/api/v1/auth/password/change",
        {"current_password": "nope", "new_password": "a brand new passphrase"},
        format="json",
    )
    assert (wrong.status_code, wrong.json()["code"]) == (400, "invalid_credentials")
    changed = api_client.post(
        "/api/v1/auth/password/change",
        {"current_password": PASSWORD, "new_password": "a brand new passphrase"},
        format="json",
    )
    assert changed.status_code == 204
    assert User.objects.get(pk=user.pk).password.startswith("argon2$argon2id$")
    outcomes = list(AuditEntry.objects.filter(event=Event.PASSWORD_CHANGED).values_list("outcome", flat=True))
    assert outcomes == ["failed", "ok"]
    assert login(api_client, user.username, "a brand new passphrase").status_code == 200


def test_a_weak_new_password_is_refused_with_the_reasons(api_client, make_user, bearer):
    user = make_user()
    api_client.credentials(HTTP_AUTHORIZATION=bearer(user))
    answer = api_client.post(
        "/api/v1/auth/password/change",
        {"current_password": PASSWORD, "new_password": "12345678"},
        format="json",
    )
    assert (answer.status_code, answer.json()["code"]) == (400, "weak_password")
    assert answer.json()["extra"]["reasons"]
    assert User.objects.get(pk=user.pk).check_password(PASSWORD)


def test_a_password_change_revokes_the_user_s_refresh_tokens(api_client, browser, make_user, bearer):
    app = web_client_create()
    user = make_user()
    tokens = code_flow_tokens(browser, app, user)
    api_client.credentials(HTTP_AUTHORIZATION=bearer(user))
    changed = api_client.post(
        "/api/v1/auth/password/change",
        {"current_password": PASSWORD, "new_password": "a brand new passphrase"},
        format="json",
    )
    assert changed.status_code == 204
    assert refresh(browser, app, tokens["refresh_token"]).status_code == 400
    entry = AuditEntry.objects.get(event=Event.PASSWORD_CHANGED)
    assert entry.data == {"refresh_tokens_revoked": 1}
