"""The one-shot bootstrap a deployment runs before anything else (compose service / Kubernetes Job):
`python -m deploy.bootstrap [--no-progress] [--json] [--skip STEP]`.

Steps, each safe to run again on every start:
1. migrate: every component's migrations (deploy/topology.py `migrate`), each with that component's own
   environment rendered from the registry with the secrets this process holds;
2. oauth-client: the first-party client the login cutover mints for (AUTH_LOGIN_CLIENT_ID), created once;
3. flags: the route flags of flags/bootstrap/features.json that the flags store (the Unleash server) lacks;
   flags already there keep their state, so a restart never undoes a rollout;
4. seed: the demo data (BOOTSTRAP_SEED) into a database without seeded rows.
The Unleash API tokens themselves are made by the Unleash server at its first start (INIT_*_API_TOKENS).
Exit 0 when every step succeeded, 2 naming the first that failed.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

from deploy import topology as t

ROOT = Path(__file__).resolve().parents[1]
FEATURES = ROOT / "flags" / "bootstrap" / "features.json"
STEPS = ("migrate", "oauth-client", "flags", "seed")


class BootstrapFailed(Exception):
    pass


@dataclass
class StepResult:
    step: str
    detail: str
    seconds: float


@dataclass
class BootstrapResult:
    steps: list[StepResult] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"steps": [asdict(s) for s in self.steps]}


def component_env(name: str, environ: Mapping[str, str]) -> dict[str, str]:
    """The environment a component's processes get, rendered with the secrets found in `environ`."""
    component = next(c for c in t.COMPONENTS if c.name == name)
    missing = [s for s in t.secrets_used(component.env) if not environ.get(s)]
    if missing:
        raise BootstrapFailed(f"{name}: secrets not set: {', '.join(missing)}")
    rendered = {k: t.SECRET_REF.sub(lambda m: environ[m.group(1)], v) for k, v in component.env.items()}
    keep = {k: environ[k] for k in ("PATH", "HOME", "STRANGLER_VAR_DIR", "PYTHONPATH") if k in environ}
    return {**keep, **rendered}


Runner = Callable[[list[str], dict[str, str]], str]


def run_command(argv: list[str], env: dict[str, str]) -> str:
    argv = [sys.executable if argv[0] == "python" else argv[0], *argv[1:]]
    result = subprocess.run(argv, env=env, cwd=ROOT, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        tail = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["(no output)"]
        raise BootstrapFailed(f"{shlex.join(argv[1:])}: exit {result.returncode}: {tail[0]}")
    return result.stdout


def step_migrate(environ: Mapping[str, str], run: Runner) -> str:
    done = []
    for component in t.COMPONENTS:
        if component.name not in t.BOOTSTRAP_FOR or not component.migrate:
            continue
        env = component_env(component.name, environ)
        for command in component.migrate:
            run(list(command), env)
        done.append(component.name)
    return "migrated " + ", ".join(done)


def step_oauth_client(environ: Mapping[str, str], run: Runner) -> str:
    env = component_env("auth", environ)
    client_id = env["AUTH_LOGIN_CLIENT_ID"]
    redirect = env["AUTH_ISSUER"].rstrip("/") + "/callback"
    out = run(
        [
            "python",
            "-m",
            "extracted.auth_service",
            "auth",
            "clients",
            "create",
            "web",
            "--grant",
            "authorization-code",
            "--redirect-uri",
            redirect,
            "--client-id",
            client_id,
            "--if-missing",
            "--json",
        ],
        env,
    )
    created = json.loads(out.strip().splitlines()[-1])["created"]
    return f"client {client_id} {'created' if created else 'exists'}"


def step_flags(environ: Mapping[str, str], run: Runner) -> str:
    env = component_env("monolith", environ)
    listed = json.loads(run(["python", "manage.py", "flags", "list", "--json"], env))
    have = {flag["name"] for flag in listed["flags"]}
    document = json.loads(FEATURES.read_text())
    missing = [f for f in document["features"] if f["name"] not in have]
    if not missing:
        return f"all {len(have)} flags exist"
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump({**document, "features": missing}, handle)
    try:
        run(["python", "manage.py", "flags", "import", handle.name, "--actor", "bootstrap"], env)
    finally:
        os.unlink(handle.name)
    return f"created {len(missing)} flags ({', '.join(f['name'] for f in missing)})"


def step_seed(environ: Mapping[str, str], run: Runner) -> str:
    env = component_env("monolith", environ)
    args = shlex.split(environ.get("BOOTSTRAP_SEED", ""))
    if args == ["none"]:
        return "skipped (BOOTSTRAP_SEED=none)"
    out = run(["python", "manage.py", "seed_techstore", *args, "--if-empty", "--json"], env)
    summary = json.loads(out.strip().splitlines()[-1])
    if summary.get("skipped"):
        return f"already seeded {summary['existing']}"
    return f"seeded {summary['created']}"


STEP_FUNCTIONS = {
    "migrate": step_migrate,
    "oauth-client": step_oauth_client,
    "flags": step_flags,
    "seed": step_seed,
}


def bootstrap(
    environ: Mapping[str, str],
    *,
    skip: tuple[str, ...] = (),
    run: Runner = run_command,
    on_step: Callable[[str], None] = lambda step: None,
) -> BootstrapResult:
    result = BootstrapResult()
    for step in STEPS:
        if step in skip:
            continue
        on_step(step)
        started = time.perf_counter()
        try:
            detail = STEP_FUNCTIONS[step](environ, run)
        except BootstrapFailed as exc:
            raise BootstrapFailed(f"{step}: {exc}") from None
        result.steps.append(StepResult(step, detail, round(time.perf_counter() - started, 2)))
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.bootstrap", description=__doc__.split("\n")[0])
    parser.add_argument("--no-progress", action="store_true", help="no progress display")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument("--skip", action="append", choices=STEPS, default=[], help="leave a step out")
    args = parser.parse_args(argv)
    from rich.console import Console
    from rich.table import Table

    console = Console(stderr=True)
    status = None if args.no_progress or args.json else console.status("bootstrap")
    try:
        if status:
            with status:
                result = bootstrap(
                    os.environ, skip=tuple(args.skip), on_step=lambda s: status.update(f"bootstrap: {s}")
                )
        else:
            result = bootstrap(os.environ, skip=tuple(args.skip))
    except BootstrapFailed as exc:
        print(f"bootstrap: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result.as_dict()))
        return 0
    table = Table("step", "result", "seconds", title="bootstrap")
    for step in result.steps:
        table.add_row(step.step, step.detail, f"{step.seconds:.1f}")
    Console().print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
