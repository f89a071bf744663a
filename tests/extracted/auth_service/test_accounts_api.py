"""The monolith's /api/v1/accounts paths served by the auth service (routes `accounts.*`): the same bodies,
user JSON and error codes; every change published to the monolith as `user.upserted` with a hash the
monolith can check (never the Argon2id one); sessions (refresh tokens) ended on a password change or
reset. The wire-level comparison with the real monolith is tests/e2e/test_accounts_contract.py."""

import pytest
from django.conf import settings
from django.contrib.auth.hashers import check_password, identify_hasher
from oauth2_provider.models import RefreshToken

from chassis.event_keys import EventSigner, event_keyring
from chassis.outbox.models import OutboxEvent
from chassis.outbox.source import ServiceOutboxSource
from contracts import event_trust
from contracts.user import USER_ROLE_CHANGED, USER_UPSERTED, validate_user
from extracted.auth_service import rbac
from extracted.auth_service.accounts import passwords
from extracted.auth_service.models import PasswordResetToken, Role, User
from kernel.crypto import es256_verify

from .conftest import PASSWORD
from .test_accounts_login import post as login_post

STRONG = "violet-tractor-88-lantern"
USER_KEYS = {"id", "username", "email", "first_name", "last_name", "phone", "role", "permissions"}
USER_KEYS |= {"date_joined"}


def url(path: str) -> str:
    return f"/api/v1/accounts/{path}"


def register(api_client, **overrides):
    body = {"username": "ada", "email": "ada@example.com", "password": STRONG} | overrides
    return api_client.post(url("register"), body, format="json")


def published() -> list[dict]:
    """The documents of the user.upserted events in the outbox, oldest first (each one validated)."""
    events = OutboxEvent.objects.filter(type=USER_UPSERTED).order_by("id")
    return [validate_user(event.data) for event in events]


def live(refresh_token: str) -> bool:
    checksum = passwords.token_hash(refresh_token)
    return RefreshToken.objects.filter(token_checksum=checksum, revoked__isnull=True).exists()


@pytest.fixture
def as_user(api_client, bearer):
    def authenticate(user):
        api_client.credentials(HTTP_AUTHORIZATION=bearer(user))
        return api_client

    return authenticate


@pytest.mark.django_db
def test_register_creates_a_customer_with_a_public_id_in_the_auth_block_and_publishes_it(api_client):
    answer = register(api_client, first_name="Ada")

    assert answer.status_code == 201, answer.content
    body = answer.json()
    user = User.objects.get(username="ada")
    assert set(body) == USER_KEYS
    assert body["id"] == user.legacy_user_id == settings.AUTH_USER_ID_OFFSET + user.pk
    assert (body["role"], body["first_name"], body["date_joined"][-1]) == ("customer", "Ada", "Z")
    assert body["permissions"] == sorted(rbac.ROLE_PERMISSIONS[Role.CUSTOMER])
    assert identify_hasher(user.password).algorithm == "argon2"
    [doc] = published()
    assert (doc["id"], doc["origin"], doc["role"], doc["version"]) == (
        body["id"],
        "auth",
        "customer",
        user.version,
    )
    assert doc["password"].startswith("pbkdf2_sha256$")  # what the monolith can check; never Argon2id
    assert check_password(STRONG, doc["password"])


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("overrides", "status", "code", "field"),
    [
        ({"role": "admin"}, 400, "validation_error", "role"),
        ({"username": "ada@home"}, 400, "validation_error", "username"),
        ({"password": "password123"}, 400, "validation_error", "password"),
        ({"email": "not-an-email"}, 400, "validation_error", "email"),
        ({"username": 42}, 400, "validation_error", "username"),
    ],
)
def test_register_refuses_what_the_monolith_refuses(api_client, overrides, status, code, field):
    answer = register(api_client, **overrides)

    assert (answer.status_code, answer.json()["code"]) == (status, code)
    assert field in answer.json()["extra"]["fields"]
    assert not User.objects.filter(username="ada").exists()
    assert published() == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("overrides", "taken"),
    [
        ({"username": "Grace"}, ["username"]),
        ({"email": "GRACE@Example.com"}, ["email"]),
        ({"username": "grace", "email": "grace@example.com"}, ["username", "email"]),
    ],
)
def test_a_taken_username_or_email_is_409_user_exists_whatever_the_case(
    api_client, make_user, overrides, taken
):
    make_user(username="grace", email="grace@example.com")

    answer = register(api_client, **overrides)

    assert (answer.status_code, answer.json()["code"]) == (409, "user_exists")
    assert answer.json()["extra"]["fields"] == taken


@pytest.mark.django_db
def test_me_answers_the_user_json_of_the_token_s_user(as_user, make_user):
    user = make_user(role=Role.STAFF, phone="+44 20 7946 0000")

    answer = as_user(user).get(url("me"))

    assert answer.status_code == 200, answer.content
    assert answer.json() | {"date_joined": None} == {
        "id": user.legacy_user_id,
        "username": user.username,
        "email": user.email,
        "first_name": "",
        "last_name": "",
        "phone": "+44 20 7946 0000",
        "role": "staff",
        "permissions": sorted(rbac.ROLE_PERMISSIONS[Role.STAFF]),
        "date_joined": None,
    }


@pytest.mark.django_db
def test_an_admin_lists_every_permission_of_the_monolith(as_user, make_user):
    admin = make_user(role=Role.ADMIN)

    assert as_user(admin).get(url("me")).json()["permissions"] == list(rbac.ALL_PERMISSION_CODES)


@pytest.mark.django_db
def test_me_needs_a_credential(api_client):
    answer = api_client.get(url("me"))

    assert (answer.status_code, answer.json()["code"]) == (401, "not_authenticated")


@pytest.mark.django_db
def test_patching_me_changes_the_given_fields_and_publishes_once_per_real_change(as_user, make_user):
    user = make_user(first_name="Ada")
    client = as_user(user)

    first = client.patch(url("me"), {"last_name": "Lovelace", "phone": "+33 1 23 45 67 89"}, format="json")
    again = client.patch(url("me"), {"last_name": "Lovelace", "phone": "+33 1 23 45 67 89"}, format="json")

    assert (first.status_code, again.status_code) == (200, 200)
    assert first.json() == again.json()
    assert (first.json()["first_name"], first.json()["last_name"]) == ("Ada", "Lovelace")
    [doc] = published()  # the repeat changed nothing, published nothing
    assert (doc["last_name"], doc["phone"], doc["origin"]) == ("Lovelace", "+33 1 23 45 67 89", "monolith")
    assert doc["version"] == User.objects.get(pk=user.pk).version


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"role": "admin"}, 400, "validation_error"),
        ({"phone": "call me"}, 400, "validation_error"),
        ({"email": "taken@example.com"}, 409, "user_exists"),
    ],
)
def test_patching_me_refuses_what_the_monolith_refuses(as_user, make_user, body, status, code):
    make_user(email="taken@example.com")
    user = make_user()

    answer = as_user(user).patch(url("me"), body, format="json")

    assert (answer.status_code, answer.json()["code"]) == (status, code)
    assert published() == []


@pytest.mark.django_db
@pytest.mark.usefixtures("web_client")
def test_a_password_change_keeps_the_caller_s_session_ends_the_others_and_publishes_the_pbkdf2_twin(
    api_client, make_user
):
    user = make_user()
    other = login_post(api_client, "login", user.username, PASSWORD).json()
    mine = login_post(api_client, "login", user.username, PASSWORD).json()
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {mine['access_token']}")

    wrong = api_client.post(
        url("password/change"), {"old_password": "nope", "new_password": STRONG}, format="json"
    )
    done = api_client.post(
        url("password/change"), {"old_password": PASSWORD, "new_password": STRONG}, format="json"
    )

    assert (wrong.status_code, wrong.json()["code"]) == (400, "wrong_password")
    assert done.status_code == 204, done.content
    assert (live(mine["refresh_token"]), live(other["refresh_token"])) == (True, False)
    [doc] = published()
    assert doc["password"].startswith("pbkdf2_sha256$")
    assert check_password(STRONG, doc["password"])
    assert login_post(api_client, "login", user.username, STRONG).status_code == 200


@pytest.mark.django_db
@pytest.mark.usefixtures("web_client")
def test_a_reset_mails_a_single_use_token_that_sets_the_password_and_ends_every_session(
    api_client, make_user, mailoutbox
):
    user = make_user(email="ada@example.com")
    pair = login_post(api_client, "login", user.username, PASSWORD).json()

    asked = api_client.post(url("password/reset"), {"email": "ADA@example.com"}, format="json")
    unknown = api_client.post(url("password/reset"), {"email": "nobody@example.com"}, format="json")
    [mail] = mailoutbox
    key = mail.body.split("\n\n")[2].strip()
    confirmed = api_client.post(
        url("password/reset/confirm"), {"token": key, "new_password": STRONG}, format="json"
    )
    replayed = api_client.post(
        url("password/reset/confirm"), {"token": key, "new_password": STRONG}, format="json"
    )

    assert (asked.status_code, asked.json()) == (202, {"status": "accepted"})
    assert (unknown.status_code, unknown.json()) == (202, {"status": "accepted"})
    assert mail.to == ["ada@example.com"]
    assert PasswordResetToken.objects.get(user=user).token_hash == passwords.token_hash(key)  # stored hashed
    assert confirmed.status_code == 204, confirmed.content
    assert (replayed.status_code, replayed.json()["code"]) == (400, "reset_token_invalid")
    assert not RefreshToken.objects.filter(user=user, revoked__isnull=True).exists()
    refreshed = api_client.post(
        "/o/token",
        {
            "grant_type": "refresh_token",
            "refresh_token": pair["refresh_token"],
            "client_id": settings.AUTH_LOGIN_CLIENT_ID,
        },
    )
    assert refreshed.status_code == 400  # the session before the reset is over
    [doc] = published()
    assert check_password(STRONG, doc["password"])


@pytest.mark.django_db
def test_an_expired_reset_token_is_refused(api_client, make_user, mailoutbox):
    user = make_user(email="ada@example.com")
    api_client.post(url("password/reset"), {"email": "ada@example.com"}, format="json")
    key = mailoutbox[0].body.split("\n\n")[2].strip()
    PasswordResetToken.objects.filter(user=user).update(expires_at="2000-01-01T00:00:00Z")

    answer = api_client.post(
        url("password/reset/confirm"), {"token": key, "new_password": STRONG}, format="json"
    )

    assert (answer.status_code, answer.json()["code"]) == (400, "reset_token_expired")
    assert User.objects.get(pk=user.pk).check_password(PASSWORD)


@pytest.mark.django_db
def test_staff_list_users_by_public_id_and_customers_may_not(as_user, make_user):
    staff = make_user(role=Role.STAFF)
    customer = make_user()

    listed = as_user(staff).get(url("users"), {"page_size": 1})
    refused = as_user(customer).get(url("users"))

    assert listed.status_code == 200, listed.content
    assert (listed.json()["count"], [u["id"] for u in listed.json()["results"]]) == (
        2,
        [staff.legacy_user_id],
    )
    assert listed.json()["next"].endswith("page=2&page_size=1")
    assert (refused.status_code, refused.json()["code"]) == (403, "permission_denied")


@pytest.mark.django_db
def test_an_admin_sets_a_role_by_public_id_and_the_change_is_published(as_user, make_user):
    admin = make_user(role=Role.ADMIN)
    user = make_user()

    answer = as_user(admin).patch(url(f"users/{user.legacy_user_id}/role"), {"role": "staff"}, format="json")
    unknown = as_user(admin).patch(url("users/999999/role"), {"role": "staff"}, format="json")
    last_admin = as_user(admin).patch(
        url(f"users/{admin.legacy_user_id}/role"), {"role": "customer"}, format="json"
    )

    assert (answer.status_code, answer.json()["role"]) == (200, "staff")
    assert (unknown.status_code, unknown.json()["code"]) == (404, "user_not_found")
    assert (last_admin.status_code, last_admin.json()["code"]) == (409, "last_admin")
    [doc] = published()
    assert (doc["id"], doc["role"]) == (user.legacy_user_id, "staff")
    # and the security event, which the relay signs (a critical type only this service may publish)
    [event] = OutboxEvent.objects.filter(type=USER_ROLE_CHANGED)
    assert event.data == {
        "id": user.legacy_user_id,
        "username": user.username,
        "role": "staff",
        "previous_role": "customer",
        "changed_by": admin.legacy_user_id,
        "version": doc["version"],
    }
    source = ServiceOutboxSource()
    with source.atomic():
        [pending] = [p for p in source.claim(10) if p.envelope.type == USER_ROLE_CHANGED]
    signed = EventSigner()(pending.envelope)  # what the relay publishes
    assert event_trust.publishers_of(signed.type) == ("auth_service",)
    assert (signed.source, bool(signed.kid), bool(signed.signature)) == ("auth_service", True, True)
    key = event_keyring().verifying_public_key(signed.kid)
    assert es256_verify(key, signed.signing_input(), signed.signature)


@pytest.mark.django_db
def test_only_an_admin_sets_roles(as_user, make_user):
    staff = make_user(role=Role.STAFF)

    answer = as_user(staff).patch(url(f"users/{staff.legacy_user_id}/role"), {"role": "admin"}, format="json")

    assert (answer.status_code, answer.json()["code"]) == (403, "permission_denied")


@pytest.mark.django_db
def test_with_auth_legacy_credentials_off_a_legacy_token_is_not_even_asked_about(api_client, settings):
    """Dual mode asks the monolith about a `Token` (here nowhere: 503); turned off, the token is nobody."""
    settings.MONOLITH_URL = "http://127.0.0.1:9"  # the discard port: nothing answers there
    api_client.credentials(HTTP_AUTHORIZATION="Token " + "k" * 32)

    asked = api_client.get(url("me"))
    assert (asked.status_code, asked.json()["code"]) == (503, "legacy_unavailable")

    settings.AUTH_LEGACY_CREDENTIALS = False
    ignored = api_client.get(url("me"))
    assert (ignored.status_code, ignored.json()["code"]) == (401, "not_authenticated")
