"""Stage 2 end to end, in order, with real processes only: the monolith (gunicorn) on PostgreSQL with
PRODUCT_SYNC_SIZE seeded products (`make test`: 3,000; `make drill-product-sync`: 10,000), a REAL Product
service (gunicorn) and its catalog consumer, RabbitMQ (a vhost of this test's own), the outbox relay
(`manage.py sync products follow`) and the gateway (mitmdump).

1. `sync products backfill` copies every product while staff writes keep changing the monolith;
2. `sync products follow` (outbox relay -> broker -> the service's consumer) catches up;
3. `sync products verify` reports 0 differences;
4. `flags on route.catalog.read`: catalog reads through the gateway come from the service, same JSON;
5. `flags off route.catalog.read`: back to the monolith.
DRILL: with the route on, the service stops: reads fall back to the monolith, 0 answers with a 5xx.
"""

from __future__ import annotations

import json
import os
import random
import threading
from dataclasses import dataclass, field

import psycopg2
import pytest
import requests

from legacy_monolith.demo.processes import manage, python_argv
from legacy_monolith.demo.stack import running_stack
from strangler_proxy.launch import DEFAULT_ROUTES
from tests.background import background, rabbitmq_vhost, wait_until
from tests.e2e.product_service import running_product_service
from tests.strangler_proxy.conftest import start_gateway, write_flags_file

pytestmark = pytest.mark.e2e

PRODUCTS = int(os.environ.get("PRODUCT_SYNC_SIZE", "3000"))
ROUTE_FLAG = "route.catalog.read"

MAKE_STAFF_TOKEN = """
import secrets
from datetime import timedelta
from django.utils import timezone
from legacy_monolith.accounts.authentication import token_hash
from legacy_monolith.accounts.models import ApiToken, Role, User
user = User.objects.filter(role=Role.STAFF).order_by("id").first()
key = secrets.token_urlsafe(24)
ApiToken.objects.create(user=user, name="sync-e2e", key_prefix=key[:8], key_hash=token_hash(key),
                        expires_at=timezone.now() + timedelta(hours=2))
print("TOKEN " + key)
"""


@dataclass
class StaffWrites:
    """A staff client changing products through the monolith's API until stopped."""

    base_url: str
    token: str
    product_ids: list[int]
    category_id: int
    done: int = 0
    failures: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> StaffWrites:
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        return self

    def _loop(self) -> None:
        session = requests.Session()
        session.headers["Authorization"] = f"Token {self.token}"
        rng = random.Random(11)
        n = 0
        while not self._stop.is_set():
            n += 1
            product = f"{self.base_url}/api/v1/catalog/products/{rng.choice(self.product_ids)}"
            if n % 3 == 0:
                answer = session.post(f"{product}/stock", json={"delta": 2, "reason": "restock"}, timeout=30)
            elif n % 7 == 0:
                answer = session.post(
                    f"{self.base_url}/api/v1/catalog/products",
                    json={"sku": f"E2E-{n}", "name": f"Made during the backfill {n}",
                          "category_id": self.category_id, "price": "12.50", "stock": 3},
                    timeout=30,
                )  # fmt: skip
            else:
                answer = session.patch(product, json={"name": f"Renamed during the backfill {n}"}, timeout=30)
            if answer.status_code >= 300:
                self.failures.append(f"{answer.status_code} {answer.text[:200]}")
            else:
                self.done += 1

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=60)


@pytest.fixture(scope="module")
def broker_url():
    with rabbitmq_vhost() as url:
        yield url


@pytest.fixture(scope="module")
def stack(e2e_database_url, tmp_path_factory):
    seed = ("--users", "3", "--products", str(PRODUCTS), "--orders", "0", "--seed", "17")
    with running_stack(
        database_url=e2e_database_url, var_dir=tmp_path_factory.mktemp("sync-e2e-var"), seed_args=seed
    ) as running:
        yield running


@pytest.fixture(scope="module")
def service(broker_url, tmp_path_factory):
    var_dir = tmp_path_factory.mktemp("sync-e2e-service")
    with running_product_service(var_dir=var_dir, env={"BROKER_URL": broker_url}) as running:
        consumer = python_argv("-m", "extracted.product_service", "consume", "product_service.catalog")
        with background(consumer, running.env, var_dir / "consumer.log"):
            yield running


@pytest.fixture(scope="module")
def sync_env(stack, service, broker_url) -> dict[str, str]:
    """The monolith's environment for `manage.py sync ...` and `manage.py flags ...`."""
    return {
        **stack.env,
        "PRODUCT_SERVICE_URL": service.url,
        "INTERNAL_API_TOKEN": service.token,
        "BROKER_URL": broker_url,
    }


@pytest.fixture(scope="module")
def flags_env(tmp_path_factory) -> dict[str, str]:
    folder = tmp_path_factory.mktemp("sync-e2e-flags")
    flags_file = write_flags_file(folder / "flags.json")
    return {"FLAGS_FILE": str(flags_file), "FLAGS_AUDIT_LOG": str(folder / "flags-audit.log")}


@pytest.fixture(scope="module")
def gateway(stack, service, flags_env, tmp_path_factory):
    running = start_gateway(
        log_path=tmp_path_factory.mktemp("sync-e2e-gateway") / "gateway.log",
        routes_yaml=DEFAULT_ROUTES,
        legacy_url=stack.monolith_url,
        env={**flags_env, "MONOLITH_URL": stack.monolith_url, "PRODUCT_SERVICE_URL": service.url},
    )
    yield running
    running.stop()


def sync(env: dict[str, str], *args: str) -> dict:
    """`manage.py sync products ...` with --json/--format json output, parsed (raises on a non-zero exit)."""
    return json.loads(manage("sync", "products", *args, env=env).stdout)


def catalog_ids(database_url: str) -> tuple[list[int], int]:
    with psycopg2.connect(database_url) as conn, conn.cursor() as cur:
        cur.execute("SELECT id FROM catalog_product ORDER BY id")
        ids = [row[0] for row in cur.fetchall()]
        cur.execute("SELECT min(id) FROM catalog_category")
        category = cur.fetchone()[0]
    conn.close()
    return ids, category


def upstream_of(gateway, path: str) -> tuple[str, int, bytes]:
    answer = requests.get(f"{gateway.url}{path}", timeout=30)
    return answer.headers.get("X-Strangler-Upstream", "?"), answer.status_code, answer.content


READ_PATHS = (
    "/api/v1/catalog/products/{id}",
    "/api/v1/catalog/products?page=3&page_size=50",
    "/api/v1/catalog/products?ordering=-price&page_size=20",
    "/api/v1/catalog/products?q=wireless&page_size=10",
    "/api/v1/catalog/categories",
)


def comparable(path: str, body: bytes):
    """A detail answer compares byte for byte; a page without its next/previous links (absolute URLs
    built from the Host each upstream was addressed as)."""
    if "?" not in path and "categories" not in path:
        return body
    page = json.loads(body)
    return page["count"], page["results"]


def test_backfill_follow_verify_then_the_route_moves_to_the_service_and_back(
    stack, service, sync_env, flags_env, gateway, tmp_path
):
    ids, category_id = catalog_ids(stack.env["DATABASE_URL"])
    assert len(ids) == PRODUCTS
    token_line = manage("shell", "-c", MAKE_STAFF_TOKEN, env=stack.env).stdout.strip().splitlines()[-1]
    writes = StaffWrites(stack.monolith_url, token_line.removeprefix("TOKEN "), ids, category_id).start()

    # 1. backfill while the staff keeps writing
    try:
        wait_until(lambda: writes.done >= 5, "the first staff writes")
        backfilled = sync(sync_env, "backfill", "--batch-size", "500", "--json")["backfill"]
        during_backfill = writes.done
    finally:
        writes.stop()
    assert writes.failures == []
    assert during_backfill > 5
    assert backfilled[1]["rows"] >= PRODUCTS

    # 2. follow catches up: relay -> RabbitMQ -> the service's consumer
    follow = python_argv("manage.py", "sync", "products", "follow", "--no-progress")
    with background(follow, sync_env, tmp_path / "follow.log"):
        wait_until(lambda: sync(sync_env, "status", "--json")["in_sync"], "follow to catch up")

    # 3. verify: nothing differs
    report = sync(sync_env, "verify", "--format", "json")
    assert report["differences"] == 0
    assert report["source_rows"] == report["target_rows"] > PRODUCTS  # products were created meanwhile

    # 4. the route moves to the service: same answers, now from the product service
    paths = [p.format(id=ids[123]) for p in READ_PATHS]
    legacy = {path: upstream_of(gateway, path) for path in paths}
    assert {upstream for upstream, _, _ in legacy.values()} == {"legacy"}
    assert {status for _, status, _ in legacy.values()} == {200}
    search = next(path for path in paths if "q=" in path)
    assert json.loads(legacy[search][2])["count"] > 0  # the search matches something
    manage("flags", "on", ROUTE_FLAG, "--actor", "sync-e2e", env={**stack.env, **flags_env})
    wait_until(lambda: upstream_of(gateway, paths[0])[0] == "product", "the gateway to read the flag")
    for path in paths:
        upstream, status, body = upstream_of(gateway, path)
        assert (upstream, status) == ("product", 200), path
        assert comparable(path, body) == comparable(path, legacy[path][2]), path

    # 5. and back
    manage("flags", "off", ROUTE_FLAG, "--actor", "sync-e2e", env={**stack.env, **flags_env})
    wait_until(lambda: upstream_of(gateway, paths[0])[0] == "legacy", "the gateway to read the flag")
    assert {upstream_of(gateway, path)[:2] for path in paths} == {("legacy", 200)}


def test_drill_the_service_stops_while_the_route_is_on_and_reads_fall_back_without_a_5xx(
    stack, service, flags_env, gateway
):
    ids, _ = catalog_ids(stack.env["DATABASE_URL"])
    paths = [p.format(id=ids[7]) for p in READ_PATHS]
    manage("flags", "on", ROUTE_FLAG, "--actor", "sync-e2e", env={**stack.env, **flags_env})
    wait_until(lambda: upstream_of(gateway, paths[0])[0] == "product", "the gateway to read the flag")

    service.stop()
    try:
        answers = [upstream_of(gateway, paths[n % len(paths)]) for n in range(120)]
    finally:
        manage("flags", "off", ROUTE_FLAG, "--actor", "sync-e2e", env={**stack.env, **flags_env})

    assert [status for _, status, _ in answers if status >= 500] == []
    assert {upstream for upstream, _, _ in answers} == {"legacy"}
    assert {status for _, status, _ in answers} == {200}
