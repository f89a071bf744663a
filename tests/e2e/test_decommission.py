"""Decommissioning a route for real (issue 16): the monolith under gunicorn on its own PostgreSQL database,
the gateway (mitmdump) in front of it, the control database, and the real `manage.py decommission`
commands in child processes, with a window of seconds.

The route is payments.read (the customer's payments), made a routing route in this test's copy of the
route table (it is a shadow route in the repository's table, which the monolith always answers): the
payments app has no foreign key pointing into it, so its last route may carry its tables.

- status proves nothing until a sample as old as the window exists, and a request to the monolith inside
  the window makes the route not decommissionable (exit 1);
- apply --dry-run changes nothing; apply archives exactly the payments tables (pg_dump, sha256 file),
  stops the payments sync, answers 410 Gone with the standard body (through the gateway, and on the
  internal entries services call directly), and sets legacy: null, so a gateway started on the table
  answers the route itself instead of falling back to the monolith;
- restore brings the route, the endpoints and the data back (200, the same payment);
- apply again, finalize refuses an archive that does not match its checksum, then drops the tables;
  restore brings them back from the archive.
"""

import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import psycopg2
import pytest
import requests

from legacy_monolith.demo.processes import manage
from legacy_monolith.demo.stack import running_stack
from strangler_proxy.launch import DEFAULT_ROUTES
from tests.e2e.databases import throwaway_database
from tests.strangler_proxy.conftest import free_port, start_gateway, write_flags_file

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
WINDOW = 3.0
ROUTE = "payments.read"
PAYMENT_TABLES = {
    "payments_authorizationvoid",
    "payments_blockedbin",
    "payments_blockedcountry",
    "payments_payment",
    "payments_refund",
    "payments_webhookevent",
}

MAKE_TOKEN = """
import json, secrets
from datetime import timedelta
from django.utils import timezone
from legacy_monolith.accounts.authentication import token_hash
from legacy_monolith.accounts.models import ApiToken
from legacy_monolith.payments.models import Payment
from migrations_data.engine.checkpoint import verify_record
payment = Payment.objects.order_by("id").first()
key = secrets.token_urlsafe(24)
ApiToken.objects.create(user=payment.user, name="decommission-test", key_prefix=key[:8],
                        key_hash=token_hash(key), expires_at=timezone.now() + timedelta(hours=2))
# the recorded outcome of a clean `sync payments verify` (the Payment service is not part of this test)
verify_record(entity="payments", differences=0, clean=True)
print("MADE " + json.dumps({"payment": payment.id, "token": key}))
"""


def route_table(directory: Path) -> Path:
    """The repository's route table with payments.read routing (flag off: the monolith answers)."""
    text = DEFAULT_ROUTES.read_text(encoding="utf-8")
    shadow = "    flag: route.payments.shadow\n    mode: shadow\n    timeout: 10\n"
    assert text.count(shadow) == 1
    text = text.replace(
        shadow, "    flag: route.payments.shadow\n    mode: route\n    fallback: true\n    timeout: 10\n"
    )
    (directory / "openapi").symlink_to(DEFAULT_ROUTES.parent / "openapi")
    path = directory / "routes.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def world(e2e_database_url, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("decommission")
    routes = route_table(tmp)
    original_routes = routes.read_text(encoding="utf-8")
    flags = {
        "FLAGS_FILE": str(write_flags_file(tmp / "flags.json")),
        "FLAGS_AUDIT_LOG": str(tmp / "flags-audit.log"),
    }
    metrics_port = free_port()
    with throwaway_database("control_e2e") as control_url:
        base = {
            "DATABASE_URL": e2e_database_url,
            "CONTROL_DATABASE_URL": control_url,
            "STRANGLER_VAR_DIR": str(tmp),
        }
        manage("migrate", "--database", "control", "--noinput", env=base)
        seed = ("--users", "6", "--products", "10", "--orders", "6", "--seed", "16")
        with running_stack(
            database_url=e2e_database_url,
            var_dir=tmp / "var",
            seed_args=seed,
            extra_env={"CONTROL_DATABASE_URL": control_url},
            workers=1,
        ) as stack:
            gateway = start_gateway(
                log_path=tmp / "gateway.log",
                routes_yaml=routes,
                legacy_url=stack.monolith_url,
                env={**flags, "GATEWAY_METRICS_PORT": str(metrics_port)},
            )
            env = {
                **stack.env,
                **flags,
                "CONTROL_DATABASE_URL": control_url,
                "ROUTES_FILE": str(routes),
                "MONOLITH_URL": stack.monolith_url,
                "GATEWAY_METRICS_URLS": f"http://127.0.0.1:{metrics_port}/metrics",
                "MONOLITH_METRICS_URLS": f"{stack.monolith_url}/metrics",
                "DECOMMISSION_ARCHIVE_DIR": str(tmp / "archives"),
            }
            made = manage("shell", "-c", MAKE_TOKEN, env=env).stdout
            line = next(x for x in made.splitlines() if x.startswith("MADE "))
            try:
                yield {
                    "stack": stack,
                    "gateway": gateway,
                    "env": env,
                    "routes": routes,
                    "original_routes": original_routes,
                    "tmp": tmp,
                    "flags": flags,
                    **json.loads(line.removeprefix("MADE ")),
                }
            finally:
                gateway.stop()


def decommission(world, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "decommission", *args],
        cwd=REPO,
        env={**os.environ, **world["env"]},
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def as_json(done: subprocess.CompletedProcess) -> dict:
    assert done.stdout, done.stderr
    return json.loads(done.stdout)


def get_payment(world, base_url: str | None = None) -> requests.Response:
    return requests.get(
        f"{base_url or world['gateway'].url}/api/v1/payments/{world['payment']}",
        headers={"Authorization": f"Token {world['token']}"},
        timeout=15,
    )


def payment_once_it_answers(world, status: int, timeout: float = 10.0) -> requests.Response:
    """The payment read, once it answers `status` (or the last answer): each of the monolith's processes
    re-reads the retired entries after at most control.decommission.retired.DEFAULT_TTL (1 s)."""
    deadline = time.monotonic() + timeout
    while (answer := get_payment(world)).status_code != status and time.monotonic() < deadline:
        time.sleep(0.2)
    return answer


def wait_out_the_window(world) -> None:
    """A sample now, and the window's length later: the next reading covers the whole window."""
    assert decommission(world, "status", ROUTE, "--window", f"{WINDOW}s", "--json").returncode == 0
    time.sleep(WINDOW + 0.5)


def tables_present(world) -> set[str]:
    with psycopg2.connect(world["env"]["DATABASE_URL"]) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename LIKE 'payments_%'"
        )
        return {row[0] for row in cur.fetchall()}


def test_a_route_is_retired_rolled_back_finalized_and_restored_from_its_archive(world):
    window = f"{WINDOW}s"
    before = get_payment(world)
    assert before.status_code == 200, before.text
    assert before.headers["X-Strangler-Upstream"] == "legacy"

    # 1. no proof yet: the first sample is younger than the window
    first = decommission(world, "status", ROUTE, "--window", window, "--json")
    assert first.returncode == 0, first.stderr
    (status,) = as_json(first)["routes"]
    assert status["state"] == "live"
    assert not status["decommissionable"]
    assert "figures cover" in " ".join(status["reasons"])

    # 2. a request that reaches the monolith inside the window: plan says no (exit 1, one line per reason)
    time.sleep(WINDOW + 0.5)
    assert get_payment(world).status_code == 200
    refused = decommission(world, "plan", ROUTE, "--window", window)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "decommission plan: not_decommissionable:" in refused.stderr
    assert "1 of 1 requests went to the monolith" in refused.stderr
    assert "Traceback" not in refused.stderr

    # 3. a whole window without a request: decommissionable, and the app's last route carries its tables
    time.sleep(WINDOW + 0.5)
    plan = decommission(world, "plan", ROUTE, "--window", window, "--json")
    assert plan.returncode == 0, plan.stderr
    status = as_json(plan)["status"]
    assert status["decommissionable"], status["reasons"]
    assert (status["monolith_requests"], status["direct_requests"]) == (0, 0)
    assert status["carries"] == ["payments"]
    assert set(status["tables"]) == PAYMENT_TABLES
    assert [s["entity"] for s in status["sync"]] == ["payments"]
    steps = "\n".join(as_json(plan)["steps"])
    assert f"{ROUTE}.legacy legacy -> null" in steps
    assert "410 Gone: GET /api/v1/payments/<int:payment_id> (payments-detail)" in steps
    assert "410 Gone: POST /internal/v1/payments/tokenize (internal-payments-tokenize)" in steps
    assert "stop the payments sync jobs" in steps
    assert f"archive {len(PAYMENT_TABLES)} tables" in steps

    # 4. a dry run changes nothing
    dry = decommission(world, "apply", ROUTE, "--window", window, "--dry-run", "--json")
    assert dry.returncode == 0, dry.stderr
    assert world["routes"].read_text(encoding="utf-8") == world["original_routes"]
    assert not (world["tmp"] / "archives").exists()

    # 5. apply: archive + checksum, 410 Gone, sync stopped, legacy none
    applied = decommission(world, "apply", ROUTE, "--window", window, "--json")
    assert applied.returncode == 0, applied.stderr
    change = as_json(applied)
    archive = Path(change["archive"])
    assert hashlib.sha256(archive.read_bytes()).hexdigest() == change["sha256"]
    assert archive.with_name(archive.name + ".sha256").read_text() == f"{change['sha256']}  {archive.name}\n"
    listing = subprocess.run(
        ["pg_restore", "--list", str(archive)], capture_output=True, text=True, check=True
    )
    dumped = {line.split()[-2] for line in listing.stdout.splitlines() if " TABLE DATA " in line}
    assert dumped == PAYMENT_TABLES  # exactly the app's tables

    gone = payment_once_it_answers(world, 410)  # this gateway still has the old table: the monolith answers
    assert gone.status_code == 410
    assert gone.json()["code"] == "route_retired"
    assert gone.json()["extra"] == {"route": ROUTE}
    internal = requests.post(
        f"{world['stack'].monolith_url}/internal/v1/payments/tokenize", json={}, timeout=10
    )
    assert internal.status_code == 410
    assert internal.json()["code"] == "route_retired"

    stopped = subprocess.run(
        [sys.executable, "manage.py", "sync", "payments", "verify"],
        cwd=REPO, env={**os.environ, **world["env"]}, capture_output=True, text=True, timeout=120,
        check=False,
    )  # fmt: skip
    assert stopped.returncode == 2
    assert "sync_stopped" in stopped.stderr

    fresh = start_gateway(
        log_path=world["tmp"] / "gateway-after.log",
        routes_yaml=world["routes"],
        legacy_url=world["stack"].monolith_url,
        env=world["flags"],
    )
    try:
        unavailable = get_payment(world, fresh.url)  # no legacy side: the gateway never falls back to it
        assert unavailable.status_code == 404
        assert unavailable.json()["code"] == "route_not_available"
    finally:
        fresh.stop()

    # 6. rollback: the route, the endpoints and the data back
    restored = decommission(world, "restore", ROUTE, "--json")
    assert restored.returncode == 0, restored.stderr
    assert world["routes"].read_text(encoding="utf-8") == world["original_routes"]
    back = payment_once_it_answers(world, 200)
    assert back.status_code == 200
    assert back.json() == before.json()

    # 7. apply again, finalize (after the archive is checked), restore from the archive alone
    wait_out_the_window(world)
    applied = decommission(world, "apply", ROUTE, "--window", window, "--json")
    assert applied.returncode == 0, applied.stderr
    archive = Path(as_json(applied)["archive"])
    checksum = archive.with_name(archive.name + ".sha256")
    good = checksum.read_text()
    checksum.write_text("0" * 64 + f"  {archive.name}\n")
    corrupt = decommission(world, "finalize", ROUTE)
    assert corrupt.returncode == 1
    assert "archive_corrupt" in corrupt.stderr
    checksum.write_text(good)
    assert tables_present(world) == PAYMENT_TABLES
    finalized = decommission(world, "finalize", ROUTE, "--json")
    assert finalized.returncode == 0, finalized.stderr
    assert tables_present(world) == set()

    restored = decommission(world, "restore", ROUTE, "--json")
    assert restored.returncode == 0, restored.stderr
    assert tables_present(world) == PAYMENT_TABLES
    back = payment_once_it_answers(world, 200)
    assert back.status_code == 200
    assert back.json() == before.json()
