"""Every accounts endpoint answers bad input with a 4xx {"code","message","extra"} body, never a 500."""

import pytest

from legacy_monolith.accounts.models import Role
from tests.factories import UserFactory

from .conftest import url

# (method, path, who is calling): every endpoint that takes a JSON body.
BODY_ENDPOINTS = [
    ("post", "register", None),
    ("post", "login", None),
    ("post", "tokens", None),
    ("patch", "me", Role.CUSTOMER),
    ("post", "password/change", Role.CUSTOMER),
    ("post", "password/reset", None),
    ("post", "password/reset/confirm", None),
    ("patch", "users/{target}/role", Role.ADMIN),
]
ENDPOINT_IDS = [f"{method} {path}" for method, path, _ in BODY_ENDPOINTS]


@pytest.fixture
def call(token_client, api_client):
    """Send a raw body to an endpoint as an anonymous caller or as a fresh user of the given role."""

    def send(method, path, role, body: str, content_type="application/json"):
        client = token_client(UserFactory(role=role)) if role else api_client
        target = UserFactory(role=Role.CUSTOMER)
        return client.generic(method.upper(), url(path.format(target=target.id)), body, content_type)

    return send


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"code", "message", "extra"}
    assert body["code"] == code
    return body


@pytest.mark.django_db
@pytest.mark.parametrize(("method", "path", "role"), BODY_ENDPOINTS, ids=ENDPOINT_IDS)
@pytest.mark.parametrize("raw", ['{"username": "ada",', "not json", '{"a": NaN}x', "\x00\xff"])
def test_malformed_json_is_400_malformed_request(call, method, path, role, raw):
    assert_error(call(method, path, role, raw), 400, "malformed_request")


@pytest.mark.django_db
@pytest.mark.parametrize(("method", "path", "role"), BODY_ENDPOINTS, ids=ENDPOINT_IDS)
def test_a_body_that_is_not_json_is_415(call, method, path, role):
    assert_error(
        call(method, path, role, "username=ada", "application/x-www-form-urlencoded"),
        415,
        "unsupported_media_type",
    )


@pytest.mark.django_db
@pytest.mark.parametrize(("method", "path", "role"), BODY_ENDPOINTS, ids=ENDPOINT_IDS)
@pytest.mark.parametrize("raw", ["[]", '"ada"', "42", "null"])
def test_a_json_body_that_is_not_an_object_is_a_validation_error(call, method, path, role, raw):
    body = assert_error(call(method, path, role, raw), 400, "validation_error")
    assert body["extra"]["fields"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("method", "path", "role", "required"),
    [
        ("post", "register", None, {"username", "email", "password"}),
        ("post", "login", None, {"username", "password"}),
        ("post", "tokens", None, {"username", "password"}),
        ("post", "password/change", Role.CUSTOMER, {"old_password", "new_password"}),
        ("post", "password/reset", None, {"email"}),
        ("post", "password/reset/confirm", None, {"token", "new_password"}),
        ("patch", "users/{target}/role", Role.ADMIN, {"role"}),
    ],
)
def test_missing_fields_are_named_in_the_validation_error(call, method, path, role, required):
    body = assert_error(call(method, path, role, "{}"), 400, "validation_error")
    assert set(body["extra"]["fields"]) == required


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("method", "path", "role", "payload", "field"),
    [
        ("post", "register", None, '{"username": 42, "email": "a@b.example", "password": "x"}', "username"),
        ("post", "register", None, '{"username": "ada", "email": ["a@b.example"], "password": "x"}', "email"),
        (
            "post",
            "register",
            None,
            '{"username": "ada", "email": "a@b.example", "password": true}',
            "password",
        ),
        ("post", "register", None, '{"username": null, "email": "a@b.example", "password": "x"}', "username"),
        ("post", "login", None, '{"username": {"$ne": ""}, "password": "x"}', "username"),
        ("post", "login", None, '{"username": "ada", "password": 12345678}', "password"),
        ("post", "login", None, '{"username": "ada", "password": "' + "x" * 257 + '"}', "password"),
        ("post", "tokens", None, '{"username": "ada", "password": "x", "name": 7}', "name"),
        ("post", "tokens", None, '{"username": "ada", "password": "x", "name": "' + "n" * 65 + '"}', "name"),
        ("patch", "me", Role.CUSTOMER, '{"phone": 612345678}', "phone"),
        ("patch", "me", Role.CUSTOMER, '{"first_name": ["Ada"]}', "first_name"),
        ("patch", "me", Role.CUSTOMER, '{"email": null}', "email"),
        (
            "post",
            "password/change",
            Role.CUSTOMER,
            '{"old_password": 1, "new_password": "x"}',
            "old_password",
        ),
        ("post", "password/reset", None, '{"email": 5}', "email"),
        ("post", "password/reset", None, '{"email": "not-an-address"}', "email"),
        ("post", "password/reset/confirm", None, '{"token": 12, "new_password": "x"}', "token"),
        (
            "post",
            "password/reset/confirm",
            None,
            '{"token": "' + "t" * 129 + '", "new_password": "x"}',
            "token",
        ),
        ("patch", "users/{target}/role", Role.ADMIN, '{"role": 1}', "role"),
        ("patch", "users/{target}/role", Role.ADMIN, '{"role": "superuser"}', "role"),
        (
            "patch",
            "users/{target}/role",
            Role.ADMIN,
            '{"role": "staff", "is_superuser": true}',
            "is_superuser",
        ),
    ],
)
def test_wrong_types_and_shapes_are_named_in_the_validation_error(call, method, path, role, payload, field):
    body = assert_error(call(method, path, role, payload), 400, "validation_error")
    assert field in body["extra"]["fields"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("method", "path", "role", "status", "code"),
    [
        ("get", "me", None, 401, "not_authenticated"),
        ("patch", "me", None, 401, "not_authenticated"),
        ("post", "password/change", None, 401, "not_authenticated"),
        ("delete", "tokens/current", None, 401, "not_authenticated"),
        ("get", "users", None, 401, "not_authenticated"),
        ("get", "users", Role.CUSTOMER, 403, "permission_denied"),
        ("patch", "users/{target}/role", None, 401, "not_authenticated"),
        ("patch", "users/{target}/role", Role.CUSTOMER, 403, "permission_denied"),
        ("patch", "users/{target}/role", Role.STAFF, 403, "permission_denied"),
    ],
)
def test_callers_without_the_right_role_are_refused(call, method, path, role, status, code):
    assert_error(call(method, path, role, '{"role": "admin"}'), status, code)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "register"),
        ("get", "login"),
        ("put", "me"),
        ("delete", "me"),
        ("get", "tokens"),
        ("post", "tokens/current"),
        ("get", "password/reset"),
        ("post", "users"),
        ("get", "users/{target}/role"),
    ],
)
def test_an_unsupported_method_is_405(call, method, path):
    assert_error(call(method, path, Role.ADMIN, "{}"), 405, "method_not_allowed")


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["users/abc/role", "users/-1/role", "users/1/role/", "me/", "nope"])
def test_an_unknown_path_is_a_json_404(call, path):
    assert_error(call("patch", path, Role.ADMIN, '{"role": "staff"}'), 404, "not_found")


@pytest.mark.django_db
def test_an_oversized_body_is_413(call):
    huge = '{"username": "' + "a" * (1024 * 1024) + '", "password": "x"}'

    assert_error(call("post", "login", None, huge), 413, "payload_too_large")
