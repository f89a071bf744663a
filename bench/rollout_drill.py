"""Rollout drills against real processes: two toy upstreams (legacy and a candidate whose error rate and
latency change while it runs: bench/toy_upstream.py), the real gateway (`python -m strangler_proxy`, two
workers, every addon, the Prometheus port on), the flags file (or a real Unleash server), a throwaway
control database, the real `manage.py rollout` commands and controller process, and the stage-2 locust
suite as client traffic, one token per shopper (so the sticky rollout splits users). Used by
tests/e2e/test_rollout_controller.py and `make bench-rollback`."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import requests

from flags.audit import AuditLog
from flags.commands.toggle import flag_toggle
from flags.config import FlagsConfig
from flags.store import open_store
from legacy_monolith.demo.processes import free_port, stop_process_group
from legacy_monolith.demo.services import throwaway_database
from load.traffic import SuiteTraffic
from strangler_proxy.launch import DEFAULT_ROUTES
from tests.strangler_proxy.conftest import GatewayProcess, write_flags_file

REPO = Path(__file__).resolve().parents[1]
ROUTE, FLAG = "catalog.read", "route.catalog.read"
DRILL_POLICY = """
defaults:
  min_requests: {min_requests}
  settle: {settle}
"""


@dataclass(frozen=True)
class DrillSize:
    """How big a drill is: `make test` runs `small`, `make drill-rollback` `full` (the issue's: 50 req/s of
    canary traffic at 25%, steps 1,5,25,50,100 of 10 s). The scenarios assert the same at either size."""

    name: str
    rate: float  # client requests per second in all; the canary gets the step's share of them
    promote_steps: str  # the healthy rollout's steps
    step_time: str  # its time per step
    window_data: float  # seconds of data in a step's window before a regression is planted


SIZES = {
    "small": DrillSize("small", rate=80, promote_steps="10,50,100", step_time="4s", window_data=3),
    "full": DrillSize("full", rate=200, promote_steps="1,5,25,50,100", step_time="10s", window_data=4),
}


def drill_size(name: str | None = None) -> DrillSize:
    """ROLLOUT_DRILL_SIZE (small, the default, or full)."""
    name = name or os.environ.get("ROLLOUT_DRILL_SIZE") or "small"
    if name not in SIZES:
        raise ValueError(f"ROLLOUT_DRILL_SIZE={name!r}: use one of {', '.join(SIZES)}")
    return SIZES[name]


@dataclass
class Toy:
    name: str
    port: int
    process: subprocess.Popen

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def knobs(self, **values: float) -> dict:
        return requests.put(f"{self.url}/_knobs", json=values, timeout=5).json()


def start_toy(name: str, log: Path) -> Toy:
    port = free_port()
    with open(log, "ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "bench.toy_upstream", "--port", str(port), "--name", name],
            cwd=REPO,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    toy = Toy(name, port, process)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        with contextlib.suppress(requests.RequestException):
            if requests.get(f"{toy.url}/_knobs", timeout=1).ok:
                return toy
        time.sleep(0.05)
    raise RuntimeError(f"toy upstream {name} did not start")


# The stage-2 suite against the drill's toy upstreams: their listings name no product, so every task is
# catalog reads (browse: categories and a products page, 2 requests; search: 1; cart and checkout browse
# instead; login: none, the token is ready-made), 1.6 requests a task on the suite's weights (20,12,2,1,1).
CATALOG_REQUESTS_PER_TASK = 1.6
DRILL_USERS = 400


def catalog_traffic(gateway_url: str, rate: float, folder: Path, *, users: int = DRILL_USERS) -> SuiteTraffic:
    """The drill's client traffic: the stage-2 locust suite (load/stages/stage2_catalog.py) through the
    gateway, `users` shoppers with one token each (`Token user-<n>`, which the toy upstream's identity lookup
    answers), so the sticky rollout splits the same users the same way; about `rate` requests a second.
    Started with `.start()`, stopped with `.stop()`; `.since(moment)` is what each request met."""
    return SuiteTraffic(
        stage="2",
        host=gateway_url,
        rate=rate,
        users=users,
        folder=folder,
        tokens=[f"Token user-{n}" for n in range(1, users + 1)],
        requests_per_task=CATALOG_REQUESTS_PER_TASK,
    )


@dataclass
class Drill:
    tmp: Path
    env: dict[str, str]
    legacy: Toy
    target: Toy
    gateway: GatewayProcess
    controllers: list[subprocess.Popen] = field(default_factory=list)
    metrics_ports: dict[int, int] = field(default_factory=dict)  # controller pid -> its --metrics-port

    def manage(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        done = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=REPO,
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        if check and done.returncode != 0:
            raise RuntimeError(
                f"manage.py {' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
            )
        return done

    def start_controller(self, *, interval: float = 0.2, lease: float = 2.0) -> subprocess.Popen:
        log = open(self.tmp / f"controller-{len(self.controllers)}.log", "ab")  # noqa: SIM115
        port = free_port()
        process = subprocess.Popen(
            [
                sys.executable,
                "manage.py",
                "rollout",
                "run",
                "--interval",
                str(interval),
                "--lease",
                str(lease),
                "--metrics-port",
                str(port),
            ],
            cwd=REPO,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        self.controllers.append(process)
        self.metrics_ports[process.pid] = port
        return process

    def rollbacks_counted(self) -> float:
        """strangler_rollout_rollbacks_total of ROUTE, summed over the running controllers' /metrics."""
        total = 0.0
        for process in self.controllers:
            if process.poll() is None:
                url = f"http://127.0.0.1:{self.metrics_ports[process.pid]}/metrics"
                for line in requests.get(url, timeout=5).text.splitlines():
                    if line.startswith(f'strangler_rollout_rollbacks_total{{route="{ROUTE}"}} '):
                        total += float(line.rsplit(" ", 1)[1])
        return total

    def kill_controller(self, process: subprocess.Popen) -> None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)

    def status(self) -> dict:
        """The route's latest rollout as `rollout status --json` shows it, read straight from the control
        database (a manage.py process per poll would cost more CPU than the drill itself)."""
        import psycopg2
        import psycopg2.extras

        with (
            psycopg2.connect(self.env["CONTROL_DATABASE_URL"]) as conn,
            conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur,
        ):
            cur.execute(
                "SELECT * FROM control_rollout WHERE route = %s ORDER BY created_at DESC, id DESC LIMIT 1",
                [ROUTE],
            )
            row = cur.fetchone()
            if row is None:
                return {}
            cur.execute(
                "SELECT kind, action, percentage, summary FROM control_rolloutevent WHERE rollout_id = %s "
                "ORDER BY at, id",
                [row["id"]],
            )
            events = [dict(e) for e in cur.fetchall()]
        conn.close()
        return {**row, "percentage": row["steps"][row["step_index"]], "events": events}

    def wait_for(self, predicate, *, timeout: float, every: float = 0.2, what: str = "") -> dict:
        deadline = time.monotonic() + timeout
        status: dict = {}
        while time.monotonic() < deadline:
            status = self.status()
            if predicate(status):
                return status
            time.sleep(every)
        raise AssertionError(f"timed out waiting for {what}: {json.dumps(status, default=str)[:2000]}")

    def flag_percentage(self) -> int:
        document = json.loads(Path(self.env["FLAGS_FILE"]).read_text())
        feature = next(f for f in document["features"] if f["name"] == FLAG)
        if not feature["enabled"]:
            return 0
        rollout = next((s for s in feature["strategies"] if s["name"] == "flexibleRollout"), None)
        return int(rollout["parameters"]["rollout"]) if rollout else 100

    def flags_off(self) -> None:
        self.manage("flags", "off", FLAG, "--actor", "drill-operator")

    def ensure_controller(self) -> subprocess.Popen:
        """The running controller, or a new one: one controller serves every scenario of a drill (its
        start-up costs seconds); a scenario that kills it gets a new one at the next reset."""
        alive = [process for process in self.controllers if process.poll() is None]
        return alive[-1] if alive else self.start_controller()

    def reset(self) -> None:
        """Between scenarios, in-process (a manage.py per step would cost seconds each): no running or
        paused rollout (aborted), open rollbacks closed, the flag off (one audited write, as `flags off`),
        a healthy candidate, and a controller running. What the scenarios assert still goes through the
        real commands and the controller process."""
        import psycopg2

        with psycopg2.connect(self.env["CONTROL_DATABASE_URL"]) as conn, conn.cursor() as cur:
            cur.execute(
                "UPDATE control_rollout SET state = 'aborted', reason = 'drill reset', finished_at = now(), "
                "owner = '', lease_until = NULL WHERE route = %s AND state IN ('running', 'paused')",
                [ROUTE],
            )
            cur.execute(
                "UPDATE control_rollout SET closed_at = now(), close_reason = 'drill reset' "
                "WHERE route = %s AND state = 'rolled_back' AND closed_at IS NULL",
                [ROUTE],
            )
        conn.close()
        config = FlagsConfig.from_env(self.env)
        flag_toggle(
            open_store(config), AuditLog.from_config(config), name=FLAG, enabled=False, actor="drill-reset"
        )
        self.target.knobs(error_rate=0, latency_ms=0, jitter_ms=0)
        self.ensure_controller()

    def stop(self) -> None:
        for process in self.controllers:
            stop_process_group(process, 5)
        self.gateway.stop()
        for toy in (self.legacy, self.target):
            stop_process_group(toy.process, 5)


def start_runner(log_path: Path, *, legacy_url: str, workers: int, env: Mapping[str, str]) -> GatewayProcess:
    """The gateway as production runs it: `python -m strangler_proxy` (the lean master, `workers`
    processes on one port, one Prometheus endpoint for all of them on GATEWAY_METRICS_PORT), every addon of
    strangler_proxy/addon.py, the shipped routes.yaml."""
    port = free_port()
    argv = [
        sys.executable, "-m", "strangler_proxy", "--listen", f"127.0.0.1:{port}", "--workers", str(workers),
        "--upstream", legacy_url, "--routes", str(DEFAULT_ROUTES),
    ]  # fmt: skip
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            argv, cwd=REPO, env=dict(env), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    gateway = GatewayProcess(f"http://127.0.0.1:{port}", port, process, log_path, argv)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the gateway exited during start-up:\n{gateway.log()[-3000:]}")
        with contextlib.suppress(requests.RequestException, ValueError):
            if requests.get(f"{gateway.url}/_strangler/health", timeout=2).json().get("status") == "ok":
                return gateway
        time.sleep(0.1)
    gateway.stop()
    raise RuntimeError(f"the gateway did not answer within 90 s:\n{gateway.log()[-3000:]}")


@contextlib.contextmanager
def running_drill(
    tmp: Path,
    *,
    min_requests: int = 20,
    settle: str = "1s",
    extra_env: Mapping[str, str] | None = None,
    gateway_workers: int = 2,
) -> Iterator[Drill]:
    tmp.mkdir(parents=True, exist_ok=True)
    with throwaway_database("control_drill") as control_url:
        flags_file = write_flags_file(tmp / "flags.json")
        policy = tmp / "policy.yaml"
        policy.write_text(DRILL_POLICY.format(min_requests=min_requests, settle=settle))
        gates = tmp / "gates.yaml"  # the route's one gate that needs no sync data: no open rollback
        gates.write_text(f"routes:\n  {ROUTE}: {{}}\n")
        legacy = start_toy("legacy", tmp / "legacy.log")
        target = start_toy("product", tmp / "product.log")
        metrics_port = free_port()
        env = {
            **os.environ,
            "CONTROL_DATABASE_URL": control_url,
            "FLAGS_FILE": str(flags_file),
            "FLAGS_AUDIT_LOG": str(tmp / "flags-audit.log"),
            "ROLLOUT_POLICY_FILE": str(policy),
            "ROLLOUT_GATES_FILE": str(gates),
            "GATEWAY_METRICS_URLS": f"http://127.0.0.1:{metrics_port}/metrics",
            "MONOLITH_URL": legacy.url,
            "PRODUCT_SERVICE_URL": target.url,
            "STRANGLER_VAR_DIR": str(tmp),
            "LOG_LEVEL": "WARNING",
            **(extra_env or {}),
        }
        if "UNLEASH_URL" in env:  # the server needs the flags before the gateway checks its routes
            subprocess.run(
                [
                    sys.executable,
                    "manage.py",
                    "flags",
                    "import",
                    str(REPO / "flags" / "bootstrap" / "features.json"),
                ],
                cwd=REPO,
                env=env,
                check=True,
                capture_output=True,
                timeout=120,
            )
        gateway = start_runner(
            tmp / "gateway.log",
            legacy_url=legacy.url,
            workers=gateway_workers,
            env={k: v for k, v in env.items() if k != "CONTROL_DATABASE_URL"}
            | {"GATEWAY_METRICS_PORT": str(metrics_port)},
        )
        drill = Drill(tmp, env, legacy, target, gateway)
        try:
            drill.manage("migrate", "--database", "control", "--noinput")
            yield drill
        finally:
            drill.stop()
