"""Issue 21's "done when", end to end with real processes only: the monolith (gunicorn, PostgreSQL, the
sandbox card gateways), a REAL Product service (gunicorn, its catalog consumer and outbox relay), a REAL Auth
service (gunicorn, its outbox relay), RabbitMQ (a vhost of this module's own), the sync jobs both ways
(`sync products follow|receive`, `sync users follow|receive`) and the gateway (mitmdump, the shipped
routes.yaml, its Prometheus port).

1. With every catalog and accounts route at 100% (catalog.read, catalog.write, auth.login and the four
   accounts.* routes), the shopping journey passes through the gateway (register, log in, browse, cart,
   coupon, checkout, webhook, staff refund, history), staff write the catalog (category, product, edit,
   stock, history, deactivation), the customer changes profile and password, a password is reset by the
   mailed token, an admin changes a role. The gateway's own per-upstream figures show each of those routes
   answered by its service and not one of their requests reaching the monolith, and the monolith's own
   http_requests_total (by URL name) agrees: no catalog-* or accounts-* request, while the checkout came.
2. Every route is rolled back to 0% (`flags off`): nothing made at 100% is lost. The monolith answers the
   same product, category, stock movements, profile, role, passwords (new and reset) and the deactivation,
   and `sync products verify` and `sync users verify` find no difference in either direction.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import subprocess
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg2
import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from legacy_monolith.demo.journey import Journey
from legacy_monolith.demo.processes import free_port, manage, python_argv
from legacy_monolith.demo.stack import running_stack
from legacy_monolith.demo.strangler import DEMO_STAFF
from strangler_proxy.launch import DEFAULT_ROUTES
from tests.background import background, rabbitmq_vhost, wait_until
from tests.e2e.auth_service import AUDIENCE, ISSUER, running_auth_service
from tests.e2e.product_service import running_product_service
from tests.strangler_proxy.conftest import start_gateway, write_flags_file

pytestmark = pytest.mark.e2e

ROUTES = {  # route id -> the upstream that serves it at 100%
    "catalog.read": "product",
    "catalog.write": "product",
    "auth.login": "auth",
    "accounts.register": "auth",
    "accounts.profile": "auth",
    "accounts.password_reset": "auth",
    "accounts.admin": "auth",
}
PASSWORD = DEMO_STAFF[1]  # every seeded user's password (development data)
STRONG = "violet-tractor-88-lantern"
RESET = "amber-kettle-51-harbour"
IDENTITY_KEY = secrets.token_urlsafe(48)  # the gateway signs, the monolith and the Product service verify


@pytest.fixture(scope="module")
def broker_url():
    with rabbitmq_vhost() as url:
        yield url


@contextlib.contextmanager
def product_service(var_dir: Path, broker_url: str) -> Iterator:
    """The Product service with its catalog consumer and its outbox relay."""
    env = {"BROKER_URL": broker_url, "INTERNAL_IDENTITY_KEY": IDENTITY_KEY}
    with running_product_service(var_dir=var_dir, env=env, workers=1) as service:
        consumer = python_argv("-m", "extracted.product_service", "consume", "product_service.catalog")
        relay = python_argv("-m", "extracted.product_service", "relay_outbox")
        with (
            background(consumer, service.env, var_dir / "consumer.log"),
            background(relay, service.env, var_dir / "relay.log"),
        ):
            yield service


@contextlib.contextmanager
def auth_service(var_dir: Path, broker_url: str) -> Iterator:
    """The Auth service with its outbox relay (user.upserted for `sync users receive`). No MONOLITH_URL: its
    dual mode asks the monolith about legacy credentials only, and this journey's are all JWTs."""
    with running_auth_service(var_dir=var_dir, env={"BROKER_URL": broker_url}) as service:
        relay = python_argv("-m", "extracted.auth_service", "relay_outbox")
        with background(relay, service.env, var_dir / "relay.log"):
            yield service


@contextlib.contextmanager
def all_at_once(*managers) -> Iterator[list]:
    """Enter the context managers in parallel (their start-ups mostly wait on migrations and gunicorn);
    leave them in reverse order. One that fails to start leaves the others stopped again."""
    with contextlib.ExitStack() as exits, ThreadPoolExecutor(len(managers)) as pool:
        futures = [pool.submit(manager.__enter__) for manager in managers]
        entered, failure = [], None
        for manager, future in zip(managers, futures, strict=True):
            try:
                entered.append(future.result())
                exits.push(manager.__exit__)
            except BaseException as exc:  # re-raised below, once every start has ended
                failure = failure or exc
        if failure is not None:
            raise failure
        yield entered


@pytest.fixture(scope="module")
def processes(e2e_database_url, broker_url, tmp_path_factory):
    seed = ("--users", "6", "--products", "30", "--orders", "0", "--seed", "21")
    monolith = running_stack(
        database_url=e2e_database_url,
        var_dir=tmp_path_factory.mktemp("done-var"),
        seed_args=seed,
        extra_env={"INTERNAL_IDENTITY_KEY": IDENTITY_KEY},
        workers=1,
    )
    product = product_service(tmp_path_factory.mktemp("done-product"), broker_url)
    auth = auth_service(tmp_path_factory.mktemp("done-auth"), broker_url)
    with all_at_once(monolith, product, auth) as started:
        yield started


@pytest.fixture(scope="module")
def stack(processes):
    return processes[0]


@pytest.fixture(scope="module")
def product(processes):
    return processes[1]


@pytest.fixture(scope="module")
def auth(processes):
    return processes[2]


@pytest.fixture(scope="module")
def sync_env(stack, product, auth, broker_url) -> dict[str, str]:
    """The monolith's environment for `manage.py sync ...` and `manage.py flags ...`."""
    assert product.token == auth.token  # one development INTERNAL_API_TOKEN for both services
    return {
        **stack.env,
        "PRODUCT_SERVICE_URL": product.url,
        "AUTH_SERVICE_URL": auth.url,
        "INTERNAL_API_TOKEN": product.token,
        "BROKER_URL": broker_url,
    }


@pytest.fixture(scope="module")
def synced(sync_env, tmp_path_factory):
    """Both services backfilled, then the four sync jobs running: forward (the monolith's outbox to the
    Product service; changed users to the Auth service) and back (each service's events into the monolith)."""
    logs = tmp_path_factory.mktemp("done-sync")
    with ThreadPoolExecutor(2) as pool:
        backfills = [
            pool.submit(manage, "sync", entity, "backfill", "--no-progress", env=sync_env)
            for entity in ("products", "users")
        ]
        for backfill in backfills:
            backfill.result()
    jobs = [
        ("products", "follow", "--no-progress"),
        ("products", "receive"),
        ("users", "follow", "--interval", "1"),
        ("users", "receive"),
    ]
    with (
        background(python_argv("manage.py", "sync", *jobs[0]), sync_env, logs / "products-follow.log"),
        background(python_argv("manage.py", "sync", *jobs[1]), sync_env, logs / "products-receive.log"),
        background(python_argv("manage.py", "sync", *jobs[2]), sync_env, logs / "users-follow.log"),
        background(python_argv("manage.py", "sync", *jobs[3]), sync_env, logs / "users-receive.log"),
    ):
        yield sync_env


@pytest.fixture(scope="module")
def flags_env(tmp_path_factory) -> dict[str, str]:
    folder = tmp_path_factory.mktemp("done-flags")
    enabled = {f"route.{route}": True for route in ROUTES}  # the bootstrap's strategies are 100%
    return {
        "FLAGS_FILE": str(write_flags_file(folder / "flags.json", enabled=enabled)),
        "FLAGS_AUDIT_LOG": str(folder / "audit.log"),
    }


@pytest.fixture(scope="module")
def metrics_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def gateway(stack, product, auth, synced, flags_env, metrics_port, tmp_path_factory):
    running = start_gateway(
        log_path=tmp_path_factory.mktemp("done-gateway") / "gateway.log",
        routes_yaml=DEFAULT_ROUTES,
        legacy_url=stack.monolith_url,
        env={
            **flags_env,
            "MONOLITH_URL": stack.monolith_url,
            "PRODUCT_SERVICE_URL": product.url,
            "AUTH_SERVICE_URL": auth.url,
            "AUTH_ISSUER": ISSUER,
            "AUTH_AUDIENCE": AUDIENCE,
            "INTERNAL_IDENTITY_KEY": IDENTITY_KEY,
            "GATEWAY_METRICS_PORT": str(metrics_port),
        },
    )
    yield running
    running.stop()


# --- helpers ------------------------------------------------------------------------------------------------


def rows(database_url: str, sql: str, *args) -> list[tuple]:
    with psycopg2.connect(database_url) as conn, conn.cursor() as cur:
        cur.execute(sql, args)
        found = cur.fetchall()
    conn.close()
    return found


def routed_requests(port: int) -> dict[tuple[str, str], float]:
    """The gateway's strangler_requests_total, summed by (route, upstream)."""
    text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    counts: dict[tuple[str, str], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "strangler_requests_total":
                key = (sample.labels["route"], sample.labels["upstream"])
                counts[key] = counts.get(key, 0.0) + sample.value
    return counts


def monolith_requests(stack) -> dict[str, float]:
    """The monolith's own http_requests_total (summed over its gunicorn workers), by URL name."""
    text = requests.get(f"{stack.monolith_url}/metrics", timeout=5).text
    counts: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "http_requests_total":
                counts[sample.labels["route"]] = counts.get(sample.labels["route"], 0.0) + sample.value
    return counts


def catalog_and_accounts(counts: dict[str, float]) -> dict[str, float]:
    return {route: n for route, n in counts.items() if route.startswith(("catalog-", "accounts-")) and n}


class Client:
    """Calls through the gateway that check the status and the upstream that answered."""

    def __init__(self, base_url: str):
        self.base_url = base_url

    def call(self, method, path, *, expect, upstream, token=None, scheme="Bearer", **kwargs):
        headers = kwargs.pop("headers", {})
        if token:
            headers["Authorization"] = f"{scheme} {token}"
        answer = requests.request(method, f"{self.base_url}{path}", headers=headers, timeout=30, **kwargs)
        assert (answer.status_code, answer.headers.get("X-Strangler-Upstream")) == (expect, upstream), (
            method,
            path,
            answer.text[:300],
        )
        return answer.json() if answer.content else None

    def token(self, username, password, *, upstream):
        issued = self.call(
            "POST",
            "/api/v1/accounts/tokens",
            json={"username": username, "password": password},
            expect=201,
            upstream=upstream,
        )
        return issued["token"], issued.get("token_type") or "Token"


def mailed_reset_token(auth, email: str) -> str:
    mails = sorted((Path(auth.env["STRANGLER_VAR_DIR"]) / "mail" / "auth_service").glob("*.log"))
    mine = [m.read_text() for m in mails if email in m.read_text()]
    return re.search(r"^    (\S+)$", mine[-1], re.MULTILINE).group(1)


# --- the tests ----------------------------------------------------------------------------------------------

MADE: dict = {}  # what the first test made at 100%, for the rollback test to look for


def test_the_journey_passes_with_every_catalog_and_accounts_route_at_100_and_none_reaches_the_monolith(
    stack, auth, gateway, synced, metrics_port
):
    database = stack.env["DATABASE_URL"]
    at = Client(gateway.url)
    registered: list[str] = []
    before = catalog_and_accounts(monolith_requests(stack))

    def shopper_reaches_the_monolith(step) -> None:
        """The Auth service registered the shopper; the monolith's cart needs them (sync users receive)."""
        if step.name == "register":
            registered.append(step.detail.split()[0])  # "shopper-xxxx (role customer)"
        if step.name == "log in":
            wait_until(
                lambda: rows(database, "SELECT 1 FROM accounts_user WHERE username = %s", registered[0]),
                "the shopper registered at the Auth service to reach the monolith",
                timeout=60,
            )

    journey = Journey(
        base_url=gateway.url,
        sandbox_url=stack.sandbox_url,
        webhook_secret=stack.webhook_secret,
        webhook_url=stack.monolith_url,
        staff_username=DEMO_STAFF[0],
        staff_password=DEMO_STAFF[1],
        on_step=shopper_reaches_the_monolith,
    )
    result = journey.run()
    assert result.final_order_status == "refunded"
    assert result.user_id > 10**12  # numbered by the Auth service (AUTH_USER_ID_OFFSET)
    assert set(journey.schemes.values()) == {"Bearer"}  # both logins were the Auth service's JWTs

    # Staff write the catalog at the Product service.
    staff, _ = at.token(DEMO_STAFF[0], PASSWORD, upstream="auth")
    category = at.call(
        "POST", "/api/v1/catalog/categories", json={"name": f"Done {uuid.uuid4().hex[:6]}"},
        token=staff, expect=201, upstream="product",
    )  # fmt: skip
    made = at.call(
        "POST", "/api/v1/catalog/products",
        json={"sku": f"DONE-{uuid.uuid4().hex[:8]}", "name": "Made at the service",
              "category_id": category["id"], "price": "49.90", "stock": 4},
        token=staff, expect=201, upstream="product",
    )  # fmt: skip
    product = f"/api/v1/catalog/products/{made['id']}"
    at.call("PATCH", product, json={"name": "Edited at the service", "price": "44.00"}, token=staff,
            expect=200, upstream="product")  # fmt: skip
    at.call("POST", f"{product}/stock", json={"delta": 6, "reason": "restock", "reference": "PO-21"},
            token=staff, expect=200, upstream="product")  # fmt: skip
    movements = at.call("GET", f"{product}/stock-movements", token=staff, expect=200, upstream="product")
    assert [(m["delta"], m["balance_after"]) for m in movements["results"]] == [(6, 10), (4, 4)]
    own = "SELECT id FROM catalog_product WHERE is_active AND id < %s ORDER BY id DESC LIMIT 1"
    retired = rows(database, own, 10**12)[0][0]  # a product of the monolith's own (not the one made above)
    at.call("DELETE", f"/api/v1/catalog/products/{retired}", token=staff, expect=204, upstream="product")
    detail = at.call("GET", product, expect=200, upstream="product")
    assert (detail["name"], detail["price"], detail["stock"]) == ("Edited at the service", "44.00", 10)

    # The shopper's profile and password at the Auth service.
    shopper, scheme = at.token(result.username, result.password, upstream="auth")
    assert scheme == "Bearer"
    at.call("PATCH", "/api/v1/accounts/me", json={"first_name": "Grace", "phone": "+44 20 7946 0000"},
            token=shopper, expect=200, upstream="auth")  # fmt: skip
    profile = at.call("GET", "/api/v1/accounts/me", token=shopper, expect=200, upstream="auth")
    at.call("POST", "/api/v1/accounts/password/change",
            json={"old_password": result.password, "new_password": STRONG},
            token=shopper, expect=204, upstream="auth")  # fmt: skip

    # A seeded customer resets a forgotten password with the mailed token.
    customer, email = rows(
        database, "SELECT username, email FROM accounts_user WHERE role = 'customer' ORDER BY id LIMIT 1"
    )[0]
    at.call("POST", "/api/v1/accounts/password/reset", json={"email": email}, expect=202, upstream="auth")
    at.call("POST", "/api/v1/accounts/password/reset/confirm",
            json={"token": mailed_reset_token(auth, email), "new_password": RESET},
            expect=204, upstream="auth")  # fmt: skip

    # An admin makes the shopper staff; staff list the users.
    admin, _ = at.token("admin", PASSWORD, upstream="auth")
    at.call("PATCH", f"/api/v1/accounts/users/{result.user_id}/role", json={"role": "staff"}, token=admin,
            expect=200, upstream="auth")  # fmt: skip
    listed = at.call("GET", "/api/v1/accounts/users?page_size=100", token=staff, expect=200, upstream="auth")
    assert result.user_id in [user["id"] for user in listed["results"]]

    # The gateway's figures: every catalog and accounts route answered by its service, none by the monolith.
    counts = routed_requests(metrics_port)
    for route, upstream in ROUTES.items():
        assert counts.get((route, upstream), 0) > 0, (route, counts)
        assert counts.get((route, "legacy"), 0) == 0, (route, counts)
    # ... and the monolith's own figures agree: not one catalog or accounts request reached it.
    assert catalog_and_accounts(monolith_requests(stack)) == before
    assert monolith_requests(stack).get("orders-checkout", 0) > 0  # while the journey's checkout did
    assert {route for route, upstream in counts if upstream == "legacy"} <= {
        "default",
        "orders.write",
        "orders.checkout",
        "orders.read",
    }

    MADE.update(
        category=category, product=detail, movements=movements, retired=retired, shopper=result.username,
        shopper_id=result.user_id, profile=profile, customer=customer, staff=staff,
    )  # fmt: skip


def test_rolling_every_route_back_to_0_loses_nothing_made_at_100(stack, gateway, synced, flags_env):
    assert MADE, "the 100% test runs first and made the records"
    at = Client(gateway.url)
    wait_until(lambda: verify(synced, "products") == 0, "sync products verify to find nothing", timeout=90)
    wait_until(lambda: verify(synced, "users") == 0, "sync users verify to find nothing", timeout=90)

    flags = ", ".join(repr(f"route.{route}") for route in ROUTES)
    manage(
        "shell", "-c",
        f"from django.core.management import call_command\n"
        f"for flag in ({flags},):\n    call_command('flags', 'off', flag, '--actor', 'done-e2e')",
        env={**stack.env, **flags_env},
    )  # fmt: skip
    wait_until(
        lambda: (
            requests.get(f"{gateway.url}/api/v1/catalog/categories", timeout=10).headers.get(
                "X-Strangler-Upstream"
            )
            == "legacy"
        ),
        "the gateway to read the flags",
        timeout=30,
    )

    # Catalog: the product as the service answered it, its category, its history, the deactivation.
    staff = MADE["staff"]  # the JWT still works: at the monolith as the gateway's signed identity
    product = f"/api/v1/catalog/products/{MADE['product']['id']}"
    assert at.call("GET", product, expect=200, upstream="legacy") == MADE["product"]
    categories = at.call("GET", "/api/v1/catalog/categories", expect=200, upstream="legacy")
    assert MADE["category"]["id"] in [c["id"] for c in flatten(categories)]
    history = at.call("GET", f"{product}/stock-movements", token=staff, expect=200, upstream="legacy")
    assert [(m["delta"], m["balance_after"], m["reason"]) for m in history["results"]] == [
        (m["delta"], m["balance_after"], m["reason"]) for m in MADE["movements"]["results"]
    ]
    at.call("GET", f"/api/v1/catalog/products/{MADE['retired']}", expect=404, upstream="legacy")
    assert catalog_and_accounts(monolith_requests(stack))  # the monolith serves them again

    # Accounts: the shopper logs in at the monolith with the password changed at the Auth service, sees the
    # profile changed there, and is staff; the reset password works; the old ones do not.
    shopper, scheme = at.token(MADE["shopper"], STRONG, upstream="legacy")
    assert scheme == "Token"
    me = at.call("GET", "/api/v1/accounts/me", token=shopper, scheme=scheme, expect=200, upstream="legacy")
    fields = ("id", "username", "email", "first_name", "last_name", "phone")
    assert {f: me[f] for f in fields} == {f: MADE["profile"][f] for f in fields}
    assert (me["first_name"], me["role"]) == ("Grace", "staff")
    at.token(MADE["customer"], RESET, upstream="legacy")
    refused = requests.post(
        f"{gateway.url}/api/v1/accounts/tokens",
        json={"username": MADE["customer"], "password": PASSWORD},
        timeout=15,
    )
    assert (refused.status_code, refused.headers["X-Strangler-Upstream"]) == (401, "legacy")


def verify(env: dict[str, str], entity: str) -> int:
    """`sync <entity> verify --json`: its differences, both directions (exit 1 when some are found)."""
    done = subprocess.run(
        python_argv("manage.py", "sync", entity, "verify", "--json"),
        env={**os.environ, **env}, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode in (0, 1), done.stderr
    return json.loads(done.stdout)["differences"]


def flatten(categories) -> list[dict]:
    found = categories["results"] if isinstance(categories, dict) else categories
    every = []
    for category in found:
        every.append(category)
        every.extend(flatten(category.get("children") or []))
    return every
