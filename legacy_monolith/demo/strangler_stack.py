"""The processes of `make demo`'s migration, in the embedded profile (SQLite files, a file flags store, a
filesystem broker and shadow queue, all under var/demo): the monolith, the sandbox, the gateway, the
Product service and a shadow candidate. Commands (`manage.py sync ...`, `flags ...`, `shadow ...`) run as
the user runs them, in child processes with the same environment."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .processes import (
    REPO_ROOT,
    ManagedProcess,
    ProcessStartError,
    free_port,
    python_argv,
    service_manage,
    service_process,
)

DEFAULT_ROUTES = REPO_ROOT / "strangler_proxy" / "routes.yaml"
SHADOW_ROUTE_ID = "catalog.detail"
SHADOW_FLAG = f"route.{SHADOW_ROUTE_ID}"
# The demo's route table: the shipped one, plus a shadow route for product details (first, so it wins over
# catalog.read) whose target is the candidate: legacy keeps answering, the candidate gets a copy.
SHADOW_ROUTE = f"""
  - id: {SHADOW_ROUTE_ID}
    methods: [GET]
    path: ^/api/v1/catalog/products/[0-9]+$
    legacy: legacy
    target: candidate
    flag: {SHADOW_FLAG}
    mode: shadow
"""


def demo_routes(path: Path) -> Path:
    """Write the demo's route table: the shipped routes.yaml, the candidate upstream, the shadow route."""
    text = DEFAULT_ROUTES.read_text(encoding="utf-8")
    text = text.replace("\nupstreams:\n", "\nupstreams:\n  candidate: ${CANDIDATE_URL}\n", 1)
    text = text.replace("\nroutes:\n", "\nroutes:" + SHADOW_ROUTE, 1)
    # the copy lives elsewhere: documents named relative to the shipped file (openapi.document) stay its own
    text = re.sub(
        r"(\bdocument:\s*)([^\s,}]+)",
        lambda m: m.group(1) + str((DEFAULT_ROUTES.parent / m.group(2)).resolve()),
        text,
    )
    if SHADOW_ROUTE_ID not in text or "candidate:" not in text:
        raise ProcessStartError(f"{DEFAULT_ROUTES} no longer has an `upstreams:` and a `routes:` section")
    path.write_text(text, encoding="utf-8")
    return path


@dataclass
class DemoStack:
    """Where everything of one demo run lives, and how to run a command against it."""

    var_dir: Path
    env: dict[str, str] = field(default_factory=dict)
    urls: dict[str, str] = field(default_factory=dict)
    processes: list[ManagedProcess] = field(default_factory=list)

    @classmethod
    def prepare(cls, var_dir: Path) -> DemoStack:
        ports = {name: free_port() for name in ("monolith", "sandbox", "gateway", "product", "candidate")}
        urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
        sqlite = {
            name: f"sqlite:///{var_dir / f'{name}.sqlite3'}" for name in ("monolith", "shadow", "control")
        }
        env = {
            "STRANGLER_VAR_DIR": str(var_dir),
            "DATABASE_URL": sqlite["monolith"],
            "SHADOW_DATABASE_URL": sqlite["shadow"],
            "CONTROL_DATABASE_URL": sqlite["control"],
            "FLAGS_FILE": str(var_dir / "flags.json"),
            "FLAGS_AUDIT_LOG": str(var_dir / "flags-audit.log"),
            "ROUTES_FILE": str(demo_routes(var_dir / "routes.yaml")),
            "MONOLITH_URL": urls["monolith"],
            "PRODUCT_SERVICE_URL": urls["product"],
            "CANDIDATE_URL": urls["candidate"],
            "PAYMENT_CARDINAL_URL": f"{urls['sandbox']}/cardinal",
            "PAYMENT_NORTHPAY_URL": f"{urls['sandbox']}/northpay",
            "PAYMENT_WEBHOOK_SECRET": "demo-webhook-secret",
            "SHADOW_QUEUE_URL": f"file://{var_dir / 'shadow-queue'}",
            "GATEWAY_AUDIT_LOG": str(var_dir / "audit" / "gateway.jsonl"),
            "GATEWAY_METRICS_PORT": "",
            "GATEWAY_RATE_LIMIT_CLIENT": "",
            "GATEWAY_RATE_LIMIT_ROUTE": "",
            "GATEWAY_RATE_LIMIT_ROUTES": "",
            "LOG_LEVEL": "WARNING",
            "COLUMNS": os.environ.get("COLUMNS", "120"),
        }
        for name in ("BROKER_URL", "REDIS_URL", "UNLEASH_URL", "PRODUCT_DATABASE_URL", "ROLLOUT_GATES_FILE"):
            env[name] = ""  # the embedded profile: nothing of a services profile leaks in
        return cls(var_dir, env, urls)

    # --- commands ---------------------------------------------------------------------------------------

    def manage(
        self, *args: str, visible: bool = False, check: bool = True, env: Mapping[str, str] | None = None
    ) -> subprocess.CompletedProcess:
        """`manage.py <args>`; `visible`: its output (progress bars, tables) goes to the terminal."""
        return self._run(python_argv("manage.py", *args), visible=visible, check=check, env=env)

    def service(self, name: str, *args: str) -> subprocess.CompletedProcess:
        """`python -m extracted.product_service <args>` for the `product` or `candidate` instance."""
        return service_manage("product_service", *args, env=self.service_env(name))

    def _run(
        self, argv: list[str], *, visible: bool, check: bool, env: Mapping[str, str] | None = None
    ) -> subprocess.CompletedProcess:
        done = subprocess.run(  # noqa: S603 (argv is ours)
            argv,
            cwd=REPO_ROOT,
            env={**os.environ, **self.env, **(env or {})},
            capture_output=not visible,
            text=True,
            check=False,
        )
        if check and done.returncode != 0:
            shown = " ".join(argv[1:])
            detail = (done.stderr or done.stdout or "").strip().splitlines()[-1:] if not visible else []
            raise ProcessStartError(f"`{shown}` exited with {done.returncode}: {' '.join(detail)}")
        return done

    # --- processes --------------------------------------------------------------------------------------

    def service_env(self, name: str) -> dict[str, str]:
        """The Product service (`product`) or the shadow candidate (`candidate`: the same service on a
        database of its own, which nothing keeps in sync after its backfill)."""
        own = self.var_dir / name
        return {
            **self.env,
            # the Product service reads the monolith's filesystem broker (var/demo/broker); the candidate
            # has a folder of its own, so no event reaches it
            "STRANGLER_VAR_DIR": str(self.var_dir if name == "product" else own),
            "PRODUCT_DATABASE_URL": f"sqlite:///{self.var_dir / f'{name}.sqlite3'}",
            "CATALOG_STORE_URL": "orm",
            "PRODUCT_CACHE_ENABLED": "0",
            "PROMETHEUS_MULTIPROC_DIR": str(own / "prometheus"),
            "BROKER_URL": "",
        }

    def start(self, process: ManagedProcess, timeout: float = 60.0) -> ManagedProcess:
        process.start(timeout=timeout)
        self.processes.append(process)
        return process

    def start_service(self, name: str) -> None:
        (self.var_dir / name).mkdir(parents=True, exist_ok=True)
        port = int(self.urls[name].rsplit(":", 1)[1])
        env = self.service_env(name)
        service_manage("product_service", "migrate", "--noinput", env=env)
        self.start(
            service_process(
                "product_service",
                port=port,
                env=env,
                workers=1,
                threads=4,
                log_path=self.var_dir / "logs" / f"{name}.log",
            )
        )

    def gateway_process(self) -> ManagedProcess:
        port = self.urls["gateway"].rsplit(":", 1)[1]
        argv = python_argv(
            "-m", "strangler_proxy", "--listen", f"127.0.0.1:{port}", "--workers", "1",
            "--upstream", self.urls["monolith"], "--routes", self.env["ROUTES_FILE"],
        )  # fmt: skip
        return ManagedProcess(
            "gateway",
            argv,
            f"{self.urls['gateway']}/healthz",
            env=self.env,
            log_path=self.var_dir / "logs" / "gateway.log",
        )

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.stop()
        self.processes.clear()
