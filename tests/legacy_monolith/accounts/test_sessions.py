import time
from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.contrib.sessions.models import Session
from django.utils import timezone
from rest_framework.test import APIClient

from tests.factories import DEFAULT_PASSWORD, UserFactory

from .conftest import session_login, url


def session_key(client: APIClient) -> str:
    return client.cookies[settings.SESSION_COOKIE_NAME].value


@pytest.mark.django_db
def test_login_by_username_opens_a_session_and_answers_the_user_and_a_csrf_token(csrf_client, customer):
    response = session_login(csrf_client, customer.username)

    assert response.status_code == 200
    body = response.json()
    assert body["user"]["id"] == customer.id
    assert body["csrf_token"]
    assert csrf_client.cookies[settings.CSRF_COOKIE_NAME].value
    assert Session.objects.filter(session_key=session_key(csrf_client)).exists()
    me = csrf_client.get(url("me"))
    assert me.status_code == 200
    assert me.json()["username"] == customer.username


@pytest.mark.django_db
def test_login_accepts_the_email_in_any_case(api_client):
    user = UserFactory(email="Grace.Hopper@example.com")

    response = session_login(api_client, "grace.hopper@EXAMPLE.com")

    assert response.status_code == 200
    assert response.json()["user"]["id"] == user.id


@pytest.mark.django_db
def test_login_records_the_last_login(api_client, customer):
    session_login(api_client, customer.username)

    customer.refresh_from_db()
    assert customer.last_login is not None


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("username", "password"),
    [
        pytest.param("known", "wrong-password-42", id="wrong-password"),
        pytest.param("nobody", DEFAULT_PASSWORD, id="unknown-username"),
        pytest.param("nobody@example.com", DEFAULT_PASSWORD, id="unknown-email"),
    ],
)
def test_login_fails_the_same_way_for_an_unknown_user_and_a_wrong_password(api_client, username, password):
    UserFactory(username="known")

    response = session_login(api_client, username, password)

    assert response.status_code == 401
    assert response.json() == {
        "code": "invalid_credentials",
        "message": "Invalid username/email or password",
        "extra": {},
    }
    assert settings.SESSION_COOKIE_NAME not in api_client.cookies


@pytest.mark.django_db
def test_login_refuses_an_inactive_user(api_client):
    user = UserFactory(is_active=False)

    response = session_login(api_client, user.username)

    assert response.status_code == 403
    assert response.json()["code"] == "account_inactive"
    assert api_client.get(url("me")).status_code == 401


@pytest.mark.django_db
def test_disabling_an_account_ends_its_open_sessions(api_client, customer):
    session_login(api_client, customer.username)
    assert api_client.get(url("me")).status_code == 200

    customer.is_active = False
    customer.save()

    assert api_client.get(url("me")).status_code == 401


@pytest.mark.django_db
def test_login_keeps_pbkdf2_when_it_refreshes_an_outdated_hash(api_client):
    """Hashes stay Django's default PBKDF2 (the Auth service upgrades them later): a hash with fewer
    iterations than today's is re-hashed at login, still as pbkdf2_sha256."""
    outdated = PBKDF2PasswordHasher().encode(DEFAULT_PASSWORD, "legacysalt", iterations=1000)
    user = UserFactory(password=outdated)

    assert session_login(api_client, user.username).status_code == 200

    user.refresh_from_db()
    algorithm, iterations, *_ = user.password.split("$")
    assert algorithm == "pbkdf2_sha256"
    assert int(iterations) == PBKDF2PasswordHasher.iterations


@pytest.mark.django_db
def test_login_does_not_reveal_an_inactive_account_to_a_wrong_password(api_client):
    user = UserFactory(is_active=False)

    response = session_login(api_client, user.username, "wrong-password-42")

    assert response.json()["code"] == "invalid_credentials"


@pytest.mark.django_db
def test_login_gives_the_session_a_new_key(api_client, customer):
    """Session fixation: a key planted before login must not become the authenticated session."""
    planted = api_client.session  # creates and stores an anonymous session, cookie included
    planted["theme"] = "dark"
    planted.save()
    api_client.cookies[settings.SESSION_COOKIE_NAME] = planted.session_key

    session_login(api_client, customer.username)

    assert session_key(api_client) != planted.session_key
    assert not Session.objects.filter(session_key=planted.session_key).exists()


@pytest.mark.django_db
def test_logout_flushes_the_session(csrf_client, customer):
    csrf_token = session_login(csrf_client, customer.username).json()["csrf_token"]
    old_key = session_key(csrf_client)

    response = csrf_client.post(url("logout"), HTTP_X_CSRFTOKEN=csrf_token)

    assert response.status_code == 204
    assert not Session.objects.filter(session_key=old_key).exists()
    assert csrf_client.get(url("me")).status_code == 401


@pytest.mark.django_db
def test_a_stolen_session_cookie_stops_working_after_logout(csrf_client, customer):
    csrf_token = session_login(csrf_client, customer.username).json()["csrf_token"]
    thief = APIClient()
    thief.cookies[settings.SESSION_COOKIE_NAME] = session_key(csrf_client)
    assert thief.get(url("me")).status_code == 200

    csrf_client.post(url("logout"), HTTP_X_CSRFTOKEN=csrf_token)

    assert thief.get(url("me")).status_code == 401


@pytest.mark.django_db
def test_logout_without_a_session_is_a_no_op(api_client):
    assert api_client.post(url("logout")).status_code == 204


# --- CSRF for session-authenticated requests ---------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("post", "logout", None),
        ("patch", "me", {"first_name": "Eve"}),
        ("post", "password/change", {"old_password": DEFAULT_PASSWORD, "new_password": "x-new-pass-991"}),
    ],
)
def test_session_requests_that_change_state_need_the_csrf_token(csrf_client, customer, method, path, body):
    session_login(csrf_client, customer.username)

    response = getattr(csrf_client, method)(url(path), body, format="json")

    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    assert "CSRF" in response.json()["message"]
    customer.refresh_from_db()
    assert customer.first_name != "Eve"
    assert customer.check_password(DEFAULT_PASSWORD)
    assert csrf_client.get(url("me")).status_code == 200


@pytest.mark.django_db
def test_a_session_request_with_the_login_csrf_token_goes_through(csrf_client, customer):
    csrf_token = session_login(csrf_client, customer.username).json()["csrf_token"]

    response = csrf_client.patch(url("me"), {"first_name": "Eve"}, format="json", HTTP_X_CSRFTOKEN=csrf_token)

    assert response.status_code == 200
    assert response.json()["first_name"] == "Eve"


@pytest.mark.django_db
def test_a_csrf_token_from_another_browser_is_refused(csrf_client, customer):
    session_login(csrf_client, customer.username)
    other_browser = APIClient(enforce_csrf_checks=True)
    foreign_token = session_login(other_browser, customer.username).json()["csrf_token"]

    response = csrf_client.patch(url("me"), {"first_name": "Eve"}, "json", HTTP_X_CSRFTOKEN=foreign_token)

    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"


@pytest.mark.django_db
def test_safe_session_requests_need_no_csrf_token(csrf_client, customer):
    session_login(csrf_client, customer.username)

    assert csrf_client.get(url("me")).status_code == 200


@pytest.mark.django_db
def test_token_requests_need_no_csrf_token(token_client, customer):
    client = token_client(customer)  # enforces CSRF checks like a browser would

    response = client.patch(url("me"), {"first_name": "Eve"}, format="json")

    assert response.status_code == 200


# --- session expiry ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_expired_session_no_longer_authenticates(api_client, customer):
    session_login(api_client, customer.username)
    key = session_key(api_client)
    # As if the session had been idle for longer than SESSION_COOKIE_AGE.
    Session.objects.filter(session_key=key).update(expire_date=timezone.now() - timedelta(seconds=1))

    response = api_client.get(url("me"))

    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


@pytest.mark.django_db
def test_every_request_pushes_the_session_expiry_forward(api_client, customer):
    session_login(api_client, customer.username)
    key = session_key(api_client)
    Session.objects.filter(session_key=key).update(expire_date=timezone.now() + timedelta(seconds=30))

    api_client.get(url("me"))

    expire_date = Session.objects.get(session_key=key).expire_date
    expected = timezone.now() + timedelta(seconds=settings.SESSION_COOKIE_AGE)
    assert abs((expire_date - expected).total_seconds()) < 5


@pytest.mark.django_db
def test_a_session_idle_for_longer_than_its_age_expires_on_the_real_clock(api_client, customer, settings):
    """Sliding expiry, with real time: activity keeps the session past its age, idleness ends it."""
    settings.SESSION_COOKIE_AGE = 2
    session_login(api_client, customer.username)

    time.sleep(1.2)
    assert api_client.get(url("me")).status_code == 200
    time.sleep(1.2)  # 2.4 s after login: alive only because the previous request slid the expiry
    assert api_client.get(url("me")).status_code == 200
    time.sleep(2.3)
    assert api_client.get(url("me")).status_code == 401
