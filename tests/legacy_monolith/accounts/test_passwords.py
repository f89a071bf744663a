from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from legacy_monolith.accounts import services
from legacy_monolith.accounts.authentication import token_hash
from legacy_monolith.accounts.models import PasswordResetToken
from tests.factories import DEFAULT_PASSWORD, UserFactory

from .conftest import reset_token_from, session_login, url

NEW_PASSWORD = "orange-glacier-73-harbor"


# --- change ----------------------------------------------------------------------------------------------


def change_password(client, old=DEFAULT_PASSWORD, new=NEW_PASSWORD, **extra):
    body = {"old_password": old, "new_password": new}
    return client.post(url("password/change"), body, format="json", **extra)


@pytest.mark.django_db
def test_changing_the_password_keeps_this_session_and_signs_out_every_other_one(csrf_client, customer):
    csrf_token = session_login(csrf_client, customer.username).json()["csrf_token"]
    other_browser = APIClient()
    session_login(other_browser, customer.username)
    api_token = services.api_token_create(user=customer)

    response = change_password(csrf_client, HTTP_X_CSRFTOKEN=csrf_token)

    assert response.status_code == 204
    assert csrf_client.get(url("me")).status_code == 200
    assert other_browser.get(url("me")).status_code == 401
    api_token.token.refresh_from_db()
    assert api_token.token.revoked_at is not None
    customer.refresh_from_db()
    assert customer.password.startswith("pbkdf2_sha256$")
    assert customer.check_password(NEW_PASSWORD)


@pytest.mark.django_db
def test_changing_the_password_with_a_token_keeps_that_token_and_revokes_the_others(token_client, customer):
    current = token_client(customer)
    other = token_client(customer)

    response = change_password(current)

    assert response.status_code == 204
    assert current.get(url("me")).status_code == 200
    assert other.get(url("me")).status_code == 401


@pytest.mark.django_db
def test_after_a_change_only_the_new_password_logs_in(token_client, customer):
    change_password(token_client(customer))

    assert session_login(APIClient(), customer.username).status_code == 401
    assert session_login(APIClient(), customer.username, NEW_PASSWORD).status_code == 200


@pytest.mark.django_db
def test_changing_the_password_needs_the_current_one(token_client, customer):
    client = token_client(customer)

    response = change_password(client, old="not-my-password")

    assert response.status_code == 400
    assert response.json()["code"] == "wrong_password"
    assert client.get(url("me")).status_code == 200
    customer.refresh_from_db()
    assert customer.check_password(DEFAULT_PASSWORD)


@pytest.mark.django_db
@pytest.mark.parametrize("new_password", ["short", "qwertyuiop", "31415926535"])
def test_changing_to_a_weak_password_is_refused(token_client, customer, new_password):
    response = change_password(token_client(customer), new=new_password)

    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
    assert response.json()["extra"]["fields"]["new_password"]


@pytest.mark.django_db
def test_changing_the_password_needs_authentication(api_client):
    response = change_password(api_client)

    assert response.status_code == 401


# --- reset request ---------------------------------------------------------------------------------------


def request_reset(client, email):
    return client.post(url("password/reset"), {"email": email}, format="json")


@pytest.mark.django_db
def test_a_reset_request_emails_a_single_use_token_that_is_stored_hashed(
    api_client, customer, mailoutbox, settings
):
    settings.PASSWORD_RESET_TTL_SECONDS = 900

    response = request_reset(api_client, customer.email.upper())

    assert response.status_code == 202
    assert len(mailoutbox) == 1
    message = mailoutbox[0]
    assert message.to == [customer.email]
    assert message.subject == "Reset your TechStore password"
    key = reset_token_from(message)
    assert "15 minutes" in message.body
    stored = PasswordResetToken.objects.get(user=customer)
    assert stored.token_hash == token_hash(key)
    assert stored.used_at is None
    expected = timezone.now() + timedelta(seconds=900)
    assert abs((stored.expires_at - expected).total_seconds()) < 5


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["unknown", "inactive"])
def test_a_reset_request_answers_the_same_for_an_address_without_an_active_account(
    api_client, customer, mailoutbox, who
):
    known = request_reset(api_client, customer.email)
    mailoutbox.clear()
    email = "nobody@example.com" if who == "unknown" else UserFactory(is_active=False).email

    response = request_reset(api_client, email)

    assert (response.status_code, response.json()) == (known.status_code, known.json())
    assert response.json() == {"status": "accepted"}
    assert mailoutbox == []
    assert not PasswordResetToken.objects.exclude(user=customer).exists()


@pytest.mark.django_db
def test_a_new_reset_request_voids_the_earlier_token(api_client, customer, mailoutbox):
    request_reset(api_client, customer.email)
    request_reset(api_client, customer.email)
    first, second = (reset_token_from(m) for m in mailoutbox)

    stale = confirm_reset(api_client, first)
    fresh = confirm_reset(api_client, second)

    assert stale.status_code == 400
    assert stale.json()["code"] == "reset_token_expired"
    assert fresh.status_code == 204


@pytest.mark.django_db
def test_a_reset_request_still_answers_when_the_mail_server_fails(api_client, customer, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 1, 1  # nothing listens

    response = request_reset(api_client, customer.email)

    assert response.status_code == 202
    assert PasswordResetToken.objects.filter(user=customer).exists()


# --- reset confirm ---------------------------------------------------------------------------------------


def confirm_reset(client, token, new_password=NEW_PASSWORD):
    return client.post(
        url("password/reset/confirm"), {"token": token, "new_password": new_password}, format="json"
    )


@pytest.fixture
def reset_key(api_client, customer, mailoutbox) -> str:
    request_reset(api_client, customer.email)
    return reset_token_from(mailoutbox[-1])


@pytest.mark.django_db
def test_confirming_a_reset_sets_the_password_and_signs_the_user_out_everywhere(
    api_client, customer, reset_key, token_client
):
    browser = APIClient()
    session_login(browser, customer.username)
    api = token_client(customer)

    response = confirm_reset(api_client, reset_key)

    assert response.status_code == 204
    customer.refresh_from_db()
    assert customer.password.startswith("pbkdf2_sha256$")
    assert customer.check_password(NEW_PASSWORD)
    assert browser.get(url("me")).status_code == 401  # session hash no longer matches the password
    assert api.get(url("me")).status_code == 401  # API tokens revoked
    assert customer.api_tokens.filter(revoked_at__isnull=True).count() == 0


@pytest.mark.django_db
def test_a_reset_token_works_only_once(api_client, reset_key):
    assert confirm_reset(api_client, reset_key).status_code == 204

    replay = confirm_reset(api_client, reset_key, "another-fresh-pass-55")

    assert replay.status_code == 400
    assert replay.json()["code"] == "reset_token_invalid"


@pytest.mark.django_db
def test_an_expired_reset_token_is_refused(api_client, customer, reset_key):
    PasswordResetToken.objects.filter(user=customer).update(expires_at=timezone.now() - timedelta(seconds=1))

    response = confirm_reset(api_client, reset_key)

    assert response.status_code == 400
    assert response.json()["code"] == "reset_token_expired"
    customer.refresh_from_db()
    assert customer.check_password(DEFAULT_PASSWORD)


@pytest.mark.django_db
@pytest.mark.parametrize("token", ["garbage", "x" * 128, token_hash("guess")])
def test_an_unknown_reset_token_is_refused(api_client, token):
    response = confirm_reset(api_client, token)

    assert response.status_code == 400
    assert response.json()["code"] == "reset_token_invalid"


@pytest.mark.django_db
def test_the_stored_hash_is_not_itself_a_reset_token(api_client, customer, reset_key):
    stored_hash = PasswordResetToken.objects.get(user=customer).token_hash

    assert confirm_reset(api_client, stored_hash).json()["code"] == "reset_token_invalid"


@pytest.mark.django_db
def test_a_reset_token_of_a_since_disabled_account_is_refused(api_client, customer, reset_key):
    customer.is_active = False
    customer.save()

    assert confirm_reset(api_client, reset_key).json()["code"] == "reset_token_invalid"


@pytest.mark.django_db
def test_a_weak_new_password_does_not_use_up_the_reset_token(api_client, customer, reset_key):
    weak = confirm_reset(api_client, reset_key, "password")

    assert weak.status_code == 400
    assert weak.json()["code"] == "validation_error"
    assert weak.json()["extra"]["fields"]["new_password"]
    assert confirm_reset(api_client, reset_key).status_code == 204
