import pytest

from legacy_monolith.accounts.models import Role, User
from tests.factories import UserFactory

from .conftest import session_login, url

STRONG_PASSWORD = "violet-tractor-88-lantern"
USER_JSON_KEYS = {
    "id",
    "username",
    "email",
    "first_name",
    "last_name",
    "phone",
    "role",
    "permissions",
    "date_joined",
}


def register(client, **overrides):
    body = {"username": "ada", "email": "ada@example.com", "password": STRONG_PASSWORD} | overrides
    return client.post(url("register"), body, format="json")


@pytest.mark.django_db
def test_register_creates_a_customer_stored_with_a_pbkdf2_hash(api_client):
    response = register(api_client, first_name="Ada", last_name="Lovelace")

    assert response.status_code == 201, response.json()
    body = response.json()
    assert set(body) == USER_JSON_KEYS
    assert body["username"] == "ada"
    assert body["first_name"] == "Ada"
    assert body["role"] == "customer"
    assert body["date_joined"].endswith("Z")
    assert "catalog.view_product" in body["permissions"]
    assert "catalog.add_product" not in body["permissions"]
    user = User.objects.get(username="ada")
    assert user.password.startswith("pbkdf2_sha256$")
    assert user.check_password(STRONG_PASSWORD)
    assert (user.role, user.is_staff, user.is_superuser) == (Role.CUSTOMER, False, False)
    assert list(user.groups.values_list("name", flat=True)) == ["customer"]


@pytest.mark.django_db
def test_a_registered_user_can_log_in_with_their_password(api_client):
    register(api_client)

    response = session_login(api_client, "ada", STRONG_PASSWORD)

    assert response.status_code == 200
    assert response.json()["user"]["username"] == "ada"


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["admin", "staff", "customer"])
def test_register_never_takes_a_role_from_the_request(api_client, role):
    response = register(api_client, role=role)

    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
    assert "role" in response.json()["extra"]["fields"]
    assert not User.objects.filter(username="ada").exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("overrides", "taken"),
    [
        ({"username": "Grace"}, ["username"]),
        ({"email": "GRACE@Example.com"}, ["email"]),
        ({"username": "grace", "email": "grace@example.com"}, ["username", "email"]),
    ],
)
def test_register_refuses_a_taken_username_or_email_whatever_the_case(api_client, overrides, taken):
    UserFactory(username="grace", email="grace@example.com")

    response = register(api_client, **overrides)

    assert response.status_code == 409
    assert response.json()["code"] == "user_exists"
    assert response.json()["extra"]["fields"] == taken


@pytest.mark.django_db
def test_registering_twice_answers_409_the_second_time(api_client):
    assert register(api_client).status_code == 201

    replay = register(api_client)

    assert replay.status_code == 409
    assert replay.json()["code"] == "user_exists"
    assert User.objects.filter(username="ada").count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    "password",
    [
        pytest.param("Sh0rt!", id="too-short"),
        pytest.param("password123", id="too-common"),
        pytest.param("8402957361", id="all-digits"),
    ],
)
def test_register_refuses_a_weak_password(api_client, password):
    response = register(api_client, password=password)

    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
    assert response.json()["extra"]["fields"]["password"]
    assert not User.objects.filter(username="ada").exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"username": "ada@home"}, "username"),
        ({"username": "ada lovelace"}, "username"),
        ({"username": "a" * 151}, "username"),
        ({"email": "not-an-email"}, "email"),
        ({"first_name": "x" * 151}, "first_name"),
    ],
)
def test_register_refuses_malformed_identity_fields(api_client, overrides, field):
    response = register(api_client, **overrides)

    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
    assert field in response.json()["extra"]["fields"]


@pytest.mark.django_db
def test_register_lowercases_the_email_domain(api_client):
    response = register(api_client, email="Ada@EXAMPLE.COM")

    assert response.json()["email"] == "Ada@example.com"
