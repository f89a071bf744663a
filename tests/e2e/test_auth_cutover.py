"""The auth cutover end to end: the real monolith (gunicorn, PostgreSQL), the real auth service (gunicorn,
its own database, users brought by `sync users backfill`), and the real gateway (mitmdump with
strangler_proxy/routes.yaml), while `flags rollout route.auth.login` goes 0 -> 50 -> 100.

- A user logged in on the legacy side (session cookie) keeps working at every step.
- At 50% each user's logins land on the same side every time, and both sides get some users.
- A login the auth service answered hands out a JWT pair; the JWT is accepted by a monolith route
  (through the gateway's signed X-Strangler-Identity) and by a service route (/api/v1/auth/me); its
  refresh token rotates at /o/token through the gateway.
- The token exchange swaps the legacy session for a JWT pair.
- A client's own X-Strangler-Identity gets it nothing, through the gateway or straight at the monolith.
- Failed logins count into one lockout counter on both sides (Redis, as deployed): moving the route
  resets nothing, a lock set on one side is the same 423 on the other, the Auth service's unlock clears it.
"""

import json
import os
import time
import uuid

import pytest
import requests

from contracts.identity import DEV_INTERNAL_IDENTITY_KEY, HEADER, sign_identity
from legacy_monolith.demo.processes import manage
from legacy_monolith.demo.stack import running_stack
from strangler_proxy.launch import DEFAULT_ROUTES
from tests.e2e.auth_service import AUDIENCE, ISSUER, running_auth_service
from tests.strangler_proxy.conftest import start_gateway, write_flags_file

pytestmark = pytest.mark.e2e

FLAG = "route.auth.login"
PASSWORD = "techstore-demo"  # seeded users' password (development data)
USERNAMES = """
import json
from legacy_monolith.accounts.models import Role, User
print("USERS " + json.dumps(list(User.objects.filter(role=Role.CUSTOMER).order_by("id")
      .values_list("username", flat=True)[:30])))
"""


@pytest.fixture(scope="module")
def lockout_env(tmp_path_factory) -> dict[str, str]:
    """One lockout store for the monolith and the Auth service: the test machine's Redis, under keys of
    this run only; the shared SQLite file if there were no Redis."""
    return {
        "AUTH_LOCKOUT_REDIS_URL": os.environ.get("REDIS_URL", ""),
        "AUTH_LOCKOUT_KEY_PREFIX": f"strangler:lockout:e2e-{uuid.uuid4().hex}:",
        "AUTH_LOCKOUT_FILE": str(tmp_path_factory.mktemp("cutover-lockout") / "lockout.sqlite3"),
    }


@pytest.fixture(scope="module")
def stack(e2e_database_url, tmp_path_factory, lockout_env):
    seed = ("--users", "30", "--products", "5", "--orders", "0", "--seed", "11")
    with running_stack(
        database_url=e2e_database_url,
        var_dir=tmp_path_factory.mktemp("cutover-var"),
        seed_args=seed,
        extra_env=lockout_env,
    ) as running:
        yield running


@pytest.fixture(scope="module")
def auth(stack, tmp_path_factory, lockout_env):
    with running_auth_service(
        var_dir=tmp_path_factory.mktemp("cutover-auth"),
        env={"MONOLITH_URL": stack.monolith_url, **lockout_env},
    ) as service:
        sync_env = {**stack.env, "AUTH_SERVICE_URL": service.url, "INTERNAL_API_TOKEN": service.token}
        manage("sync", "users", "backfill", "--no-progress", env=sync_env)
        yield service


@pytest.fixture(scope="module")
def usernames(stack) -> list[str]:
    output = manage("shell", "-c", USERNAMES, env=stack.env).stdout
    return json.loads(next(line for line in output.splitlines() if line.startswith("USERS "))[6:])


@pytest.fixture(scope="module")
def flags_env(tmp_path_factory) -> dict[str, str]:
    tmp = tmp_path_factory.mktemp("cutover-flags")
    return {
        "FLAGS_FILE": str(write_flags_file(tmp / "flags.json")),
        "FLAGS_AUDIT_LOG": str(tmp / "audit.log"),
    }


@pytest.fixture(scope="module")
def gateway(stack, auth, flags_env, tmp_path_factory):
    running = start_gateway(
        log_path=tmp_path_factory.mktemp("cutover-gateway") / "gateway.log",
        routes_yaml=DEFAULT_ROUTES,
        legacy_url=stack.monolith_url,
        env={
            **flags_env,
            "MONOLITH_URL": stack.monolith_url,
            "AUTH_SERVICE_URL": auth.url,
            "AUTH_ISSUER": ISSUER,
            "AUTH_AUDIENCE": AUDIENCE,
        },
    )
    yield running
    running.stop()


def set_rollout(stack, flags_env, percentage: int) -> None:
    manage(
        "flags", "rollout", FLAG, str(percentage), "--actor", "cutover-test", env={**stack.env, **flags_env}
    )
    changed = os.stat(flags_env["FLAGS_FILE"]).st_mtime
    while time.time() < changed + 2.0:  # the gateway re-reads the file within 0.25 s; leave it ample time
        time.sleep(0.05)


def login(gateway, username):
    answer = requests.post(
        f"{gateway.url}/api/v1/accounts/login", json={"username": username, "password": PASSWORD}, timeout=15
    )
    assert answer.status_code == 200, answer.text
    return answer


def still_logged_in(gateway, session, user_id) -> None:
    me = session.get(f"{gateway.url}/api/v1/accounts/me", timeout=15)
    assert (me.status_code, me.json()["id"], me.headers["X-Strangler-Upstream"]) == (200, user_id, "legacy")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_the_login_cutover_keeps_legacy_users_working_and_new_logins_get_jwts_both_sides_accept(
    stack, auth, gateway, flags_env, usernames
):
    # Flag at 0: logins are the monolith's sessions.
    legacy = requests.Session()
    first = legacy.post(
        f"{gateway.url}/api/v1/accounts/login",
        json={"username": usernames[0], "password": PASSWORD},
        timeout=15,
    )
    assert (first.status_code, first.headers["X-Strangler-Upstream"]) == (200, "legacy")
    assert "csrf_token" in first.json()
    legacy_id = first.json()["user"]["id"]
    still_logged_in(gateway, legacy, legacy_id)

    # 50%: each user's logins land on one side, and both sides get users.
    set_rollout(stack, flags_env, 50)
    sides = {}
    for username in usernames[1:21]:
        answers = [login(gateway, username) for _ in range(2)]
        sides[username] = {a.headers["X-Strangler-Upstream"] for a in answers}
        for answer in answers:
            if answer.headers["X-Strangler-Upstream"] == "auth":
                assert answer.json()["token_type"] == "Bearer"
            else:
                assert "csrf_token" in answer.json()
    assert all(len(side) == 1 for side in sides.values()), sides
    assert {side for (side,) in sides.values()} == {"legacy", "auth"}, sides
    still_logged_in(gateway, legacy, legacy_id)

    # 100%: every login is the auth service's, with a JWT pair.
    set_rollout(stack, flags_env, 100)
    answer = login(gateway, usernames[25])
    assert answer.headers["X-Strangler-Upstream"] == "auth"
    pair = answer.json()
    user_id = pair["user"]["id"]  # the monolith's id
    still_logged_in(gateway, legacy, legacy_id)

    # The JWT at a monolith route: the monolith sees the signed identity, not the token.
    me = requests.get(f"{gateway.url}/api/v1/accounts/me", headers=bearer(pair["access_token"]), timeout=15)
    assert (me.status_code, me.headers["X-Strangler-Upstream"]) == (200, "legacy")
    assert (me.json()["id"], me.json()["username"]) == (user_id, usernames[25])
    # ... and at a service route, as the token itself.
    at_service = requests.get(
        f"{gateway.url}/api/v1/auth/me", headers=bearer(pair["access_token"]), timeout=15
    )
    assert (at_service.status_code, at_service.headers["X-Strangler-Upstream"]) == (200, "auth")
    assert at_service.json()["legacy_user_id"] == user_id

    # The refresh token rotates at /o/token through the gateway; the new access token works too.
    refreshed = requests.post(
        f"{gateway.url}/o/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": pair["refresh_token"],
            "client_id": auth.web_client_id,
        },
        timeout=15,
    )
    assert refreshed.status_code == 200, refreshed.text
    assert refreshed.json()["refresh_token"] != pair["refresh_token"]
    again = requests.get(
        f"{gateway.url}/api/v1/accounts/me", headers=bearer(refreshed.json()["access_token"]), timeout=15
    )
    assert (again.status_code, again.json()["id"]) == (200, user_id)

    # The token exchange swaps the legacy session (the browser's cookie) for a JWT pair.
    exchanged = legacy.post(
        f"{gateway.url}/api/v1/auth/token/exchange", json={"client_id": auth.web_client_id}, timeout=15
    )
    assert exchanged.status_code == 200, exchanged.text
    swapped = requests.get(
        f"{gateway.url}/api/v1/accounts/me", headers=bearer(exchanged.json()["access_token"]), timeout=15
    )
    assert (swapped.status_code, swapped.json()["id"]) == (200, legacy_id)
    still_logged_in(gateway, legacy, legacy_id)


def test_a_spoofed_identity_header_gets_a_client_nothing(stack, gateway, usernames):
    me = "/api/v1/accounts/me"
    # signed with the right (development) key and all: the gateway strips it before anything reads it
    forged = sign_identity(
        key=DEV_INTERNAL_IDENTITY_KEY,
        user_id=1,
        roles=["admin"],
        scope=[],
        jti="forged",
        method="GET",
        path=me,
    )
    through_gateway = requests.get(f"{gateway.url}{me}", headers={HEADER: forged}, timeout=15)
    assert (through_gateway.status_code, through_gateway.json()["code"]) == (401, "not_authenticated")

    # straight at the monolith, without the key: refused, never anonymous
    guessed = sign_identity(
        key="x" * 40, user_id=1, roles=["admin"], scope=[], jti="j", method="GET", path=me
    )
    direct = requests.get(f"{stack.monolith_url}{me}", headers={HEADER: guessed}, timeout=15)
    assert (direct.status_code, direct.json()["code"]) == (401, "invalid_identity")


def attempt(gateway, username, password, kind="login"):
    return requests.post(
        f"{gateway.url}/api/v1/accounts/{kind}", json={"username": username, "password": password}, timeout=15
    )


def test_failed_logins_count_across_the_cutover_and_a_lock_holds_on_both_sides(
    stack, auth, gateway, flags_env, usernames
):
    victim, threshold = usernames[27], 5  # AUTH_LOCKOUT_THRESHOLD's default, on both sides
    # The ids the Auth service's unlock takes: the victim's there, and a staff token to unlock with.
    set_rollout(stack, flags_env, 100)
    token = login(gateway, victim).json()["access_token"]
    victim_id = requests.get(f"{gateway.url}/api/v1/auth/me", headers=bearer(token), timeout=15).json()["sub"]
    staff_token = login(gateway, "staff1").json()["access_token"]

    # Route at 0%: threshold - 1 failures at the monolith, each a 401 from the legacy side.
    set_rollout(stack, flags_env, 0)
    for n in range(threshold - 1):
        failed = attempt(gateway, victim, f"guess-{n}", kind="tokens" if n % 2 else "login")
        assert (failed.status_code, failed.headers["X-Strangler-Upstream"]) == (401, "legacy"), failed.text
    # Route at 100%: the Auth service's first failure is the threshold-th: the counter was not reset.
    set_rollout(stack, flags_env, 100)
    locked = attempt(gateway, victim, "guess-last")
    assert (locked.status_code, locked.headers["X-Strangler-Upstream"]) == (423, "auth"), locked.text
    assert locked.json()["code"] == "account_locked"
    assert int(locked.headers["Retry-After"]) > 0
    assert attempt(gateway, victim, PASSWORD).status_code == 423  # the right password too

    # Back at 0%: the monolith refuses the locked account with the same body, session and token login.
    set_rollout(stack, flags_env, 0)
    for kind in ("login", "tokens"):
        at_legacy = attempt(gateway, victim, PASSWORD, kind=kind)
        assert (at_legacy.status_code, at_legacy.headers["X-Strangler-Upstream"]) == (423, "legacy")
        assert at_legacy.json() == locked.json()
        assert int(at_legacy.headers["Retry-After"]) > 0

    # The Auth service's unlock (staff, through the gateway) clears the one counter: the monolith lets in.
    unlocked = requests.post(
        f"{gateway.url}/api/v1/auth/users/{victim_id}/unlock", headers=bearer(staff_token), timeout=15
    )
    assert (unlocked.status_code, unlocked.json()) == (200, {"unlocked": True}), unlocked.text
    assert login(gateway, victim).headers["X-Strangler-Upstream"] == "legacy"
