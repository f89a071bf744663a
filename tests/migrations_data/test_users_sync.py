"""`sync users backfill|follow|verify` against a REAL auth service (gunicorn on its own throwaway
PostgreSQL database): monolith users arrive with their PBKDF2 hash and log in there; the version rule
holds; a hash upgraded to Argon2id there is never overwritten by the monolith's PBKDF2 one; changes follow;
verify finds what a bypassing write left different (never the password) and --repair fixes it."""

import psycopg2
import pytest
import requests
from django.core.management import call_command

from acl_adapters.accounts.translate import USER_ROW_FIELDS, user_row_to_document
from contracts.user import user_digest
from legacy_monolith.accounts.models import User
from migrations_data.engine.http import InternalApiClient
from migrations_data.users.follow import run_follow
from migrations_data.users.spec import IMPORT_USERS
from migrations_data.users.verify import verify_users
from tests.e2e.auth_service import running_auth_service
from tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module")
def auth_service(tmp_path_factory):
    with running_auth_service(var_dir=tmp_path_factory.mktemp("auth-service")) as service:
        yield service


def auth_rows(service, sql, params=()):
    with psycopg2.connect(service.database_url) as conn, conn.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall() if cursor.description else None


@pytest.fixture
def client(auth_service, settings):
    """The internal API client (and the settings `manage.py sync` reads) on an auth service holding no
    synced user."""
    for table in ("refreshtoken", "accesstoken", "idtoken", "grant"):
        auth_rows(auth_service, f"DELETE FROM oauth2_provider_{table}")
    auth_rows(auth_service, "DELETE FROM auth_service_user WHERE legacy_user_id IS NOT NULL")
    settings.AUTH_SERVICE_URL = auth_service.url
    settings.INTERNAL_API_TOKEN = auth_service.token
    api = InternalApiClient(auth_service.url, auth_service.token, attempts=2, backoff_max=0.2)
    yield api
    api.close()


def document(user) -> dict:
    return user_row_to_document(User.objects.filter(pk=user.pk).values(*USER_ROW_FIELDS).get())


def login(service, username, password=DEFAULT_PASSWORD):
    return requests.post(
        f"{service.url}/api/v1/accounts/login", json={"username": username, "password": password}, timeout=10
    )


def stored_hash(service, legacy_id) -> str:
    [(password,)] = auth_rows(
        service, "SELECT password FROM auth_service_user WHERE legacy_user_id = %s", [legacy_id]
    )
    return password


def test_backfill_copies_every_user_who_then_logs_in_at_the_auth_service_with_the_monolith_password(
    auth_service, client
):
    users = [UserFactory(), UserFactory(role="staff"), UserFactory(is_active=False)]

    call_command("sync", "users", "backfill", "--no-progress", "--batch-size", "2")

    assert verify_users(client=client).differences == 0
    call_command("sync", "users", "verify", "--jobs", "2", "--format", "json")  # exit 0: no differences
    assert stored_hash(auth_service, users[0].pk) == users[0].password  # PBKDF2, carried as it is
    answer = login(auth_service, users[1].username)
    assert answer.status_code == 200, answer.text
    assert answer.json()["user"] == {**answer.json()["user"], "id": users[1].pk, "role": "staff"}
    assert login(auth_service, users[2].username).json()["code"] == "account_inactive"


def test_an_older_or_equal_version_is_stale_and_changes_nothing(client):
    user = UserFactory(first_name="Ada")
    current = document(user)
    client.post(IMPORT_USERS, {"users": [current]})

    older = {**current, "first_name": "Old", "version": current["version"] - 1}
    answers = [
        client.post(IMPORT_USERS, {"users": [doc]}) for doc in (older, {**current, "first_name": "Same"})
    ]

    assert [a["stale"] for a in answers] == [1, 1]
    assert client.post("/internal/v1/verify/digests", {"lo": user.pk, "hi": user.pk + 1})["digests"] == {
        str(user.pk): user_digest(current)
    }


def test_an_argon2id_hash_upgraded_at_the_auth_service_is_never_overwritten_by_a_synced_pbkdf2_one(
    auth_service, client
):
    user = UserFactory()
    call_command("sync", "users", "backfill", "--no-progress", "--restart")
    assert login(auth_service, user.username).status_code == 200  # upgrades the hash there
    upgraded = stored_hash(auth_service, user.pk)
    assert upgraded.startswith("argon2$argon2id$")

    user.first_name = "Renamed"
    user.save()  # a newer version, still the PBKDF2 hash
    run_follow(client, once=True)

    assert stored_hash(auth_service, user.pk) == upgraded
    assert verify_users(client=client).differences == 0  # the new name arrived
    assert login(auth_service, user.username).status_code == 200


def test_a_password_changed_on_the_monolith_after_the_upgrade_replaces_the_argon2id_hash(
    auth_service, client
):
    user = UserFactory()
    call_command("sync", "users", "backfill", "--no-progress", "--restart")
    assert login(auth_service, user.username).status_code == 200  # upgraded to Argon2id there

    user.set_password("a-brand-new-passphrase")  # e.g. a reset on the legacy side
    user.save()
    run_follow(client, once=True)

    assert login(auth_service, user.username).json()["code"] == "invalid_credentials"
    assert login(auth_service, user.username, "a-brand-new-passphrase").status_code == 200


def test_follow_sends_changed_users_and_a_second_pass_sends_nothing_new(client):
    user = UserFactory()
    call_command("sync", "users", "follow", "--once", "--overlap", "0")

    user.email = "changed@example.com"
    user.save()
    first = run_follow(client, once=True, overlap=0)
    second = run_follow(client, once=True, overlap=0)

    assert (first.applied, second.sent) == (1, 0)
    assert verify_users(client=client).differences == 0


def test_verify_finds_a_write_that_bypassed_save_and_repair_fixes_it(client):
    users = [UserFactory(), UserFactory()]
    call_command("sync", "users", "backfill", "--no-progress", "--restart")
    User.objects.filter(pk=users[1].pk).update(last_name="Bypassed")  # no updated_at bump: follow misses it
    User.objects.filter(pk=users[0].pk).update(password="pbkdf2_sha256$1$salt$not-compared")

    report = verify_users(client=client)
    repaired = verify_users(client=client, repair=True)

    assert (report.different, report.missing, report.extra) == ([users[1].pk], [], [])  # not the password
    assert repaired.repaired["remaining"] == 0
    assert verify_users(client=client).differences == 0


def test_the_import_refuses_a_bad_document_and_a_wrong_token(auth_service, client):
    user = UserFactory()
    bad = {**document(user), "role": "root"}

    refused = requests.post(
        f"{auth_service.url}{IMPORT_USERS}",
        json={"users": [bad]},
        headers={"Authorization": f"Bearer {auth_service.token}"},
        timeout=10,
    )
    wrong_token = requests.post(
        f"{auth_service.url}{IMPORT_USERS}",
        json={"users": []},
        headers={"Authorization": "Bearer not-the-token"},
        timeout=10,
    )

    assert (refused.status_code, refused.json()["code"]) == (400, "invalid_document")
    assert "role" in refused.json()["message"]
    assert wrong_token.status_code == 401
