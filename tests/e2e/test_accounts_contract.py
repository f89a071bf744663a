"""The Auth service answers the monolith's /api/v1/accounts writes and reads exactly as the monolith does.

The monolith (gunicorn, throwaway PostgreSQL, seeded) and a REAL Auth service (gunicorn, its own database)
holding the same users (`sync users backfill`); no sync runs afterwards, so each side's writes stay its
own. The same requests go to both, as the same users (the monolith's legacy token on one side, a JWT from
the cutover login on the other), with one Host header so links compare: registration, profile read and
update, password change, reset request and confirm, the user list and role changes, with their bad
inputs. Status and JSON must be identical; only a new user's id and date_joined differ (each side numbers
its own registrations: the monolith from its sequence, the Auth service from AUTH_USER_ID_OFFSET).
"""

from __future__ import annotations

import json

import pytest
import requests

from legacy_monolith.demo.processes import manage
from legacy_monolith.demo.stack import running_stack
from tests.e2e.auth_service import running_auth_service

pytestmark = pytest.mark.e2e

HOST = "shop.example"
PASSWORD = "techstore-demo"  # seeded users' password (development data)
STRONG = "violet-tractor-88-lantern"
USERS = """
import json
from legacy_monolith.accounts.models import Role, User
def pick(role):
    users = User.objects.filter(role=role, is_active=True).order_by("id")
    return users.values_list("username", "id", "email")
print("USERS " + json.dumps({role: list(pick(role)[:2]) for role in ("customer", "staff", "admin")}))
"""


@pytest.fixture(scope="module")
def stack(e2e_database_url, tmp_path_factory):
    seed = ("--users", "8", "--products", "3", "--orders", "0", "--seed", "5")
    with running_stack(
        database_url=e2e_database_url, var_dir=tmp_path_factory.mktemp("accounts-var"), seed_args=seed
    ) as running:
        yield running


@pytest.fixture(scope="module")
def auth(stack, tmp_path_factory):
    with running_auth_service(
        var_dir=tmp_path_factory.mktemp("accounts-auth"), env={"MONOLITH_URL": stack.monolith_url}
    ) as service:
        sync_env = {**stack.env, "AUTH_SERVICE_URL": service.url, "INTERNAL_API_TOKEN": service.token}
        manage("sync", "users", "backfill", "--no-progress", env=sync_env)
        yield service


@pytest.fixture(scope="module")
def users(stack) -> dict[str, list[list]]:
    output = manage("shell", "-c", USERS, env=stack.env).stdout
    return json.loads(next(line for line in output.splitlines() if line.startswith("USERS "))[6:])


class Sides:
    """Who is who on each side, and the same request sent to both."""

    def __init__(self, stack, auth, users):
        self.urls = {"monolith": stack.monolith_url, "auth": auth.url}
        self.users = users
        self.credentials: dict[tuple[str, str], dict[str, str]] = {}

    def headers(self, side: str, username: str | None) -> dict[str, str]:
        headers = {"Host": HOST}
        if username is None:
            return headers
        if (side, username) not in self.credentials:
            answer = requests.post(
                f"{self.urls[side]}/api/v1/accounts/tokens",
                json={"username": username, "password": PASSWORD},
                timeout=15,
            )
            assert answer.status_code == 201, answer.text
            scheme = "Token" if side == "monolith" else "Bearer"
            self.credentials[(side, username)] = {"Authorization": f"{scheme} {answer.json()['token']}"}
        return {**headers, **self.credentials[(side, username)]}

    def both(
        self, method: str, path: str, *, as_user: str | None = None, body=None, raw: bytes | None = None
    ):
        answers = {}
        for side, url in self.urls.items():
            headers = self.headers(side, as_user)
            if raw is not None:
                headers["Content-Type"] = "application/json"
            answers[side] = requests.request(
                method, f"{url}/api/v1/accounts/{path}", json=body, data=raw, headers=headers, timeout=15
            )
        return answers["monolith"], answers["auth"]


@pytest.fixture(scope="module")
def sides(stack, auth, users):
    return Sides(stack, auth, users)


def same(monolith, auth, *, ignore: tuple[str, ...] = ()) -> dict | None:
    assert (monolith.status_code, auth.status_code) == (monolith.status_code,) * 2, (monolith.text, auth.text)
    if monolith.status_code == 204:
        assert auth.content == b""
        return None
    ours, theirs = monolith.json(), auth.json()
    for key in ignore:
        ours.pop(key, None)
        theirs.pop(key, None)
    assert theirs == ours
    return ours


def username(sides, role: str, index: int = 0) -> str:
    return sides.users[role][index][0]


def test_reads_of_the_profile_and_the_user_list_are_the_same(sides):
    for role in ("customer", "staff", "admin"):
        same(*sides.both("GET", "me", as_user=username(sides, role)))
    same(*sides.both("GET", "me"))  # 401 not_authenticated
    staff = username(sides, "staff")
    for query in ("", "?page=2&page_size=3", "?page_size=100", "?page=99", "?page=0", "?page_size=abc"):
        same(*sides.both("GET", f"users{query}", as_user=staff))
    same(*sides.both("GET", "users", as_user=username(sides, "customer")))  # 403
    same(*sides.both("GET", "users"))  # 401


@pytest.mark.parametrize(
    "body",
    [
        {"username": "newcomer", "email": "newcomer@example.com", "password": STRONG, "first_name": "New"},
        {"username": "x", "email": "x@example.com", "password": STRONG, "role": "admin"},
        {"username": "a@b", "email": "ab@example.com", "password": STRONG},
        {"username": "weak", "email": "weak@example.com", "password": "password123"},
        {"username": "short", "email": "short@example.com", "password": "Sh0rt!"},
        {"username": "digits", "email": "digits@example.com", "password": "8402957361"},
        {"username": "bad email", "email": "not-an-email", "password": STRONG},
        {"username": 5, "email": [], "password": None},
        {"username": "nopass", "email": "nopass@example.com"},
        {},
    ],
)
def test_registration_answers_the_same(sides, body):
    same(*sides.both("POST", "register", body=body), ignore=("id", "date_joined"))


def test_registration_refuses_taken_names_and_bad_json_the_same(sides):
    taken, _, email = sides.users["customer"][0]
    for body in (
        {"username": taken.upper(), "email": "fresh@example.com", "password": STRONG},
        {"username": "fresh", "email": email.upper(), "password": STRONG},
    ):
        same(*sides.both("POST", "register", body=body))
    same(*sides.both("POST", "register", raw=b"{not json"))
    same(*sides.both("POST", "register", raw=b"[1, 2]"))


@pytest.mark.parametrize(
    "body",
    [
        {"first_name": "Grace", "phone": "+44 20 7946 0000"},
        {"last_name": ""},
        {"phone": "call me"},
        {"email": "not-an-email"},
        {"role": "admin"},
        {"first_name": 42},
        {},
    ],
)
def test_profile_updates_answer_the_same(sides, body):
    same(*sides.both("PATCH", "me", as_user=username(sides, "customer", 1), body=body))


def test_a_profile_email_taken_by_another_user_is_409_on_both(sides):
    body = {"email": sides.users["staff"][0][2].upper()}
    monolith, auth = sides.both("PATCH", "me", as_user=username(sides, "customer", 1), body=body)
    assert same(monolith, auth)["code"] == "user_exists"


@pytest.mark.parametrize(
    "body",
    [
        {"old_password": "wrong-password-1", "new_password": STRONG},
        {"old_password": PASSWORD, "new_password": "password123"},
        {"old_password": PASSWORD},
        {"old_password": PASSWORD, "new_password": STRONG, "extra": 1},
    ],
)
def test_password_change_refusals_answer_the_same(sides, body):
    same(*sides.both("POST", "password/change", as_user=username(sides, "customer"), body=body))


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("password/reset", {"email": "nobody@example.com"}),
        ("password/reset", {"email": "not-an-email"}),
        ("password/reset", {}),
        ("password/reset/confirm", {"token": "not-a-token", "new_password": STRONG}),
        ("password/reset/confirm", {"token": "x" * 129, "new_password": STRONG}),
        ("password/reset/confirm", {"new_password": STRONG}),
    ],
)
def test_password_reset_answers_the_same(sides, path, body):
    same(*sides.both("POST", path, body=body))


def test_role_changes_answer_the_same(sides):
    admin, staff = username(sides, "admin"), username(sides, "staff")
    customer_id = sides.users["customer"][1][1]
    for as_user, path, body in (
        (admin, f"users/{customer_id}/role", {"role": "staff"}),
        (admin, f"users/{customer_id}/role", {"role": "staff"}),  # the same again
        (admin, f"users/{customer_id}/role", {"role": "customer"}),
        (admin, f"users/{customer_id}/role", {"role": "root"}),
        (admin, "users/987654321/role", {"role": "staff"}),
        (staff, f"users/{customer_id}/role", {"role": "admin"}),
        (None, f"users/{customer_id}/role", {"role": "admin"}),
    ):
        same(*sides.both("PATCH", path, as_user=as_user, body=body))
    only_admin = sides.users["admin"]
    if len(only_admin) == 1:  # the seed's single admin cannot step down, on either side
        same(*sides.both("PATCH", f"users/{only_admin[0][1]}/role", as_user=admin, body={"role": "staff"}))
