import pytest

from legacy_monolith.accounts.models import Role
from legacy_monolith.accounts.roles import ROLE_PERMISSIONS
from tests.factories import UserFactory

from .conftest import url


@pytest.mark.django_db
def test_me_answers_the_callers_user_json(token_client):
    user = UserFactory(first_name="Ada", last_name="Lovelace", phone="+33 1 23 45 67 89")

    body = token_client(user).get(url("me")).json()

    assert body == {
        "id": user.id,
        "username": user.username,
        "email": user.email,
        "first_name": "Ada",
        "last_name": "Lovelace",
        "phone": "+33 1 23 45 67 89",
        "role": "customer",
        "permissions": sorted(ROLE_PERMISSIONS[Role.CUSTOMER]),
        "date_joined": user.date_joined.isoformat().replace("+00:00", "Z"),
    }


@pytest.mark.django_db
def test_me_needs_authentication(api_client):
    response = api_client.get(url("me"))

    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


@pytest.mark.django_db
def test_patching_me_changes_only_the_given_fields(token_client):
    user = UserFactory(first_name="Ada", last_name="Lovelace", phone="")
    client = token_client(user)

    response = client.patch(url("me"), {"phone": "+44 20 7946 0958"}, format="json")

    assert response.status_code == 200
    user.refresh_from_db()
    assert (user.first_name, user.last_name, user.phone) == ("Ada", "Lovelace", "+44 20 7946 0958")
    assert response.json()["phone"] == "+44 20 7946 0958"


@pytest.mark.django_db
def test_patching_me_with_the_same_body_twice_gives_the_same_result(token_client, customer):
    client = token_client(customer)
    body = {"first_name": "Grace", "last_name": "Hopper", "email": "grace@navy.example"}

    first = client.patch(url("me"), body, format="json").json()
    second = client.patch(url("me"), body, format="json").json()

    assert first == second
    assert second["email"] == "grace@navy.example"


@pytest.mark.django_db
def test_patching_me_can_clear_optional_fields(token_client):
    user = UserFactory(phone="+33 6 00 00 00 00")

    token_client(user).patch(url("me"), {"phone": "", "first_name": ""}, format="json")

    user.refresh_from_db()
    assert (user.phone, user.first_name) == ("", "")


@pytest.mark.django_db
def test_patching_me_to_another_users_email_is_a_conflict(token_client, customer):
    UserFactory(email="taken@example.com")

    response = token_client(customer).patch(url("me"), {"email": "TAKEN@example.com"}, format="json")

    assert response.status_code == 409
    assert response.json()["code"] == "user_exists"
    assert response.json()["extra"]["fields"] == ["email"]
    customer.refresh_from_db()
    assert customer.email != "TAKEN@example.com"


@pytest.mark.django_db
def test_patching_me_to_my_own_email_is_fine(token_client, customer):
    response = token_client(customer).patch(url("me"), {"email": customer.email}, format="json")

    assert response.status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body",
    [{"role": "admin"}, {"is_staff": True}, {"username": "renamed"}, {"password": "x-new-pass-991"}],
    ids=["role", "is_staff", "username", "password"],
)
def test_patching_me_cannot_touch_anything_but_the_profile(token_client, customer, body):
    response = token_client(customer).patch(url("me"), body, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
    customer.refresh_from_db()
    assert (customer.role, customer.is_staff, customer.username) == (Role.CUSTOMER, False, customer.username)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"phone": "call me maybe"}, "phone"),
        ({"phone": "1" * 33}, "phone"),
        ({"email": "nope"}, "email"),
        ({"email": ""}, "email"),
        ({"last_name": "x" * 151}, "last_name"),
    ],
)
def test_patching_me_with_malformed_values_is_refused(token_client, customer, body, field):
    response = token_client(customer).patch(url("me"), body, format="json")

    assert response.status_code == 400
    assert field in response.json()["extra"]["fields"]
