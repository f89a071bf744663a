"""Stage 2 through its runbooks alone, against real processes: the monolith (gunicorn), the Product service
(gunicorn), the gateway (mitmdump), in the embedded profile (SQLite files, the flags file, the filesystem
broker: legacy_monolith/demo/strangler_stack.py). `runbook run products --yes` takes route.catalog.read
from nothing (no data in the service, the flag off) to 100% with the shipped evidence gates; then
`runbook run products-rollback --yes` returns every route of the stage to the monolith. On the same stack,
stage 1's runbook (`gateway`) and its rollback run with every check against the real gateway, and the
product-service-down drill runs through a real outage of the Product service."""

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from legacy_monolith.demo.processes import monolith_process
from legacy_monolith.demo.strangler_stack import DEFAULT_ROUTES, DemoStack

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
FLAG = "route.catalog.read"


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    stack = DemoStack.prepare(tmp_path_factory.mktemp("runbook-products"))
    stack.env["ROUTES_FILE"] = str(DEFAULT_ROUTES)  # the shipped route table and gates file
    stack.env["GATEWAY_URL"] = stack.urls["gateway"]
    try:
        stack.manage("migrate", "--noinput", "--database", "default")
        stack.manage("migrate", "--noinput", "--database", "control")
        stack.manage("seed_techstore", "--no-progress", "--users", "3", "--products", "40", "--orders", "0")
        port = int(stack.urls["monolith"].rsplit(":", 1)[1])
        stack.start(monolith_process(port=port, env=stack.env, workers=1, log_path=stack.var_dir / "m.log"))
        stack.start(stack.gateway_process())
        stack.start_service("product")
        # the service's catalog consumer declares its queue (an operator keeps it running)
        stack.service("product", "consume", "product_service.catalog", "--once", "--timeout", "60")
        yield stack
    finally:
        stack.stop()


def runbook(stack: DemoStack, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "runbook", *args],
        cwd=REPO,
        env={**stack.env, "PATH": "/usr/bin:/bin", "HOME": str(stack.var_dir)},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def answered_by(stack: DemoStack) -> str:
    answer = requests.get(f"{stack.urls['gateway']}/api/v1/catalog/products?page_size=1", timeout=10)
    assert answer.status_code == 200, answer.text[:300]
    return answer.headers["X-Strangler-Upstream"]


def audit(stack: DemoStack) -> list[dict]:
    return [json.loads(line) for line in Path(stack.env["FLAGS_AUDIT_LOG"]).read_text().splitlines()]


def test_stage_2_goes_from_nothing_to_100_percent_and_back_with_runbook_run_alone(stack):
    assert answered_by(stack) == "legacy"

    forward = runbook(stack, "run", "products", "--yes")

    assert forward.returncode == 0, forward.stdout[-3000:] + forward.stderr[-2000:]
    assert "runbook products: done, 6 steps" in forward.stdout
    assert "check ok: gates of catalog.read passes: open_rollback, verify, sync_lag pass" in forward.stdout
    assert answered_by(stack) == "product"
    raises = [e["action"] for e in audit(stack) if e["flag"] == FLAG]
    assert raises == ["rollout 1%", "rollout 10%", "rollout 50%", "rollout 100%"]

    back = runbook(stack, "run", "products-rollback", "--yes")

    assert back.returncode == 0, back.stdout[-3000:] + back.stderr[-2000:]
    assert answered_by(stack) == "legacy"
    listed = json.loads(runbook(stack, "list", "--json").stdout)["runbooks"]
    last = {b["name"]: (b["last_run"] or {}).get("status") for b in listed}
    assert last["products"] == "done"
    assert last["products-rollback"] == "done"
    steps = [e["after"]["id"] for e in audit(stack) if e["action"] == "runbook.step"]
    assert steps == [
        "backfill", "verify", "canary-1", "canary-10", "half", "all",
        "gateway-to-monolith", "monolith-reads-own-tables",
    ]  # fmt: skip
    verified = subprocess.run(
        [sys.executable, "manage.py", "flags", "audit", "--verify"],
        cwd=REPO,
        env={**stack.env, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert verified.returncode == 0, verified.stderr


def flags(stack: DemoStack, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "flags", *args],
        cwd=REPO,
        env={**stack.env, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )


def test_stage_1_runbook_proves_the_gateway_in_front_of_the_monolith_and_its_rollback_holds(stack):
    """The gateway stage's runbook against the same real gateway and monolith: every check it makes (the
    default route and catalog.read to the monolith, the gateway's own 404s) holds, and a raised flag it
    finds is taken back by its `flags kill`."""
    raised = flags(stack, "rollout", FLAG, "50", "--force", "--reason", "e2e: a flag left raised")
    assert raised.returncode == 0, raised.stderr

    forward = runbook(stack, "run", "gateway", "--yes")

    assert forward.returncode == 0, forward.stdout[-3000:] + forward.stderr[-2000:]
    assert "runbook gateway: done, 3 steps" in forward.stdout
    assert "FAILED" not in forward.stdout
    assert forward.stdout.count("check ok: GET ") == 6  # 2 preconditions, 4 checks through the gateway
    assert "/metrics expect status=404, json={'code': 'route_not_available'}: status 404" in forward.stdout
    assert json.loads(flags(stack, "show", FLAG, "--json").stdout)["flag"]["enabled"] is False
    assert [e["action"] for e in audit(stack) if e["flag"] == "route.*"] == ["kill"]

    back = runbook(stack, "run", "gateway-rollback", "--yes")

    assert back.returncode == 0, back.stdout[-3000:] + back.stderr[-2000:]
    assert "runbook gateway-rollback: done, 1 steps" in back.stdout
    assert answered_by(stack) == "legacy"


def test_the_product_service_down_drill_sends_the_catalog_back_then_waits_for_the_service(stack):
    """The on-call drill during a real outage: with the catalog read from the Product service, the service is
    stopped; the drill's diagnosis sees reads still answered (the gateway's fallback), lowers the stage's
    flags, and waits at `service-back` until the service (restarted here) is ready and in sync."""
    raised = flags(stack, "rollout", FLAG, "100", "--force", "--reason", "e2e: the catalog at the service")
    assert raised.returncode == 0, raised.stderr
    product = next(p for p in stack.processes if p.name == "product_service")
    product.stop()
    stack.processes.remove(product)
    state = Path(stack.env["STRANGLER_VAR_DIR"]) / "runbooks" / "product-service-down.json"
    drill = subprocess.Popen(
        [sys.executable, "manage.py", "runbook", "run", "product-service-down", "--yes"],
        cwd=REPO,
        env={**stack.env, "PATH": "/usr/bin:/bin", "HOME": str(stack.var_dir)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 300
        while not state.exists() or json.loads(state.read_text())["next_step"] != "service-back":
            assert drill.poll() is None, drill.communicate()
            assert time.monotonic() < deadline, "the drill never reached service-back"
            time.sleep(0.5)
        assert answered_by(stack) == "legacy"  # the flags are down while the service still is
        stack.start_service("product")
        out, err = drill.communicate(timeout=600)
    finally:
        drill.kill()

    assert drill.returncode == 0, out[-3000:] + err[-2000:]
    assert "runbook product-service-down: done, 6 steps" in out
    assert "page_size=1 expect status=200: status 200" in out  # reads were answered meanwhile
    assert json.loads(flags(stack, "show", FLAG, "--json").stdout)["flag"]["enabled"] is False
    steps = [e["after"] for e in audit(stack) if e["action"] == "runbook.step"][-6:]
    assert [(s["id"], s["status"]) for s in steps] == [
        ("diagnose", "done"), ("writes-to-monolith", "done"), ("reads-to-monolith", "done"),
        ("monolith-reads-own-tables", "done"), ("service-back", "done"), ("verify", "done"),
    ]  # fmt: skip
