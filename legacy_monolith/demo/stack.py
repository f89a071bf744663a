"""The monolith stack as real processes: migrate, seed, sandbox, gunicorn; torn down on exit."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from .processes import free_port, manage, monolith_process, sandbox_process

WEBHOOK_SECRET = "demo-webhook-secret"  # shared by the sandbox and the monolith for this run only


@dataclass(frozen=True)
class Stack:
    monolith_url: str
    sandbox_url: str
    webhook_secret: str
    env: dict[str, str]


@contextlib.contextmanager
def running_stack(
    *,
    database_url: str,
    var_dir: Path,
    seed_args: tuple[str, ...] = ("--users", "20", "--products", "300", "--orders", "40", "--seed", "42"),
    on_phase: Callable[[str], None] = lambda phase: None,
    extra_env: dict[str, str] | None = None,
    workers: int = 2,
    threads: int = 4,
) -> Iterator[Stack]:
    """`workers` x `threads`: the monolith's gunicorn (gthread), as production runs it by default."""
    sandbox_port, monolith_port = free_port(), free_port()
    sandbox_url = f"http://127.0.0.1:{sandbox_port}"
    env = {
        "DATABASE_URL": database_url,
        "STRANGLER_VAR_DIR": str(var_dir),
        "PAYMENT_CARDINAL_URL": f"{sandbox_url}/cardinal",
        "PAYMENT_NORTHPAY_URL": f"{sandbox_url}/northpay",
        "PAYMENT_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "LOG_LEVEL": "WARNING",
        **(extra_env or {}),
    }
    on_phase("migrating the database")
    manage("migrate", "--noinput", env=env)
    on_phase("seeding TechStore")
    manage("seed_techstore", "--no-progress", *seed_args, env=env)
    logs = var_dir / "logs"
    sandbox = sandbox_process(port=sandbox_port, log_path=logs / "sandbox.log")
    monolith = monolith_process(
        port=monolith_port, env=env, workers=workers, threads=threads, log_path=logs / "monolith.log"
    )
    try:
        on_phase(f"starting the sandbox gateways on {sandbox_url}")
        sandbox.start()
        on_phase(f"starting the monolith under gunicorn on :{monolith_port}")
        monolith.start()
        yield Stack(f"http://127.0.0.1:{monolith_port}", sandbox_url, WEBHOOK_SECRET, env)
    finally:
        monolith.stop()
        sandbox.stop()
