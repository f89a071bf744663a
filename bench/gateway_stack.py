"""The processes `make bench-gateway` measures, each on a free port of 127.0.0.1, all stopped together.

- the monolith under gunicorn gthread (keep-alive capable, as production runs it), on a small seed;
- one nginx (Debian package), in the foreground from a temporary prefix and bench/gateway/nginx.conf.template:
  the static origin (a file the size and content of a product) and the reference reverse proxy in front of
  the monolith and of the origin (keep-alive pools both ways). The system nginx config is never read;
- stock `mitmdump -q --mode reverse:<upstream>` in front of each upstream;
- the lean master alone, `python -m strangler_proxy --addons passthrough` (the same workers, no addon): what
  the gateway's addon chain costs is the difference;
- our gateway, `python -m strangler_proxy` (several workers, lean master, the gateway addons with their
  defaults: routes.yaml, bootstrap flags all off, audit log on) in front of each upstream.

Each config's processes form one process group (each is started in its own session), recorded in
`Stack.groups`, so the bench can read their CPU time from /proc. nginx is one group for the origin and the
reverse proxy: its proxy CPU on the static upstream is its CPU minus what the origin alone costs (direct).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlsplit

import requests

from legacy_monolith.demo.processes import (
    REPO_ROOT,
    ManagedProcess,
    ProcessStartError,
    free_port,
    manage,
    monolith_process,
    python_argv,
)

from .edge_cert import edge_certificate

ASSETS = Path(__file__).resolve().parent / "gateway"
NGINX_TEMPLATE = ASSETS / "nginx.conf.template"
UPSTREAMS = ("monolith", "static")
CONFIGS = ("direct", "nginx", "stock_mitmdump", "lean", "gateway", "gateway_tls")


class StackError(RuntimeError):
    """A process of the bench could not be prepared or started (the message says which and why)."""


@dataclass
class Stack:
    """Base URL of every (config, upstream) pair, and the product-detail path they all serve."""

    product_path: str
    urls: dict[tuple[str, str], str] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    gateway_workers: int = 0
    ca_file: str | None = None  # the edge certificate's CA (the gateway_tls config serves HTTPS)
    groups: dict[tuple[str, str], int] = field(default_factory=dict)  # (config, upstream) -> process group

    def url(self, config: str, upstream: str) -> str:
        return self.urls[(config, upstream)] + self.product_path


def database_prepare(database_url: str, *, products: int, seed: int) -> None:
    """Create the bench database if missing, migrate it and (re)seed a small deterministic catalogue."""
    parts = urlsplit(database_url)
    if parts.scheme not in ("postgres", "postgresql"):
        raise StackError(
            f"the gateway bench runs the monolith on PostgreSQL; DATABASE_URL is {database_url!r}"
        )
    name = parts.path.lstrip("/")
    import psycopg2

    try:
        conn = psycopg2.connect(parts._replace(path="/postgres").geturl())
    except psycopg2.Error as exc:
        raise StackError(f"cannot reach PostgreSQL at {parts.hostname}:{parts.port}: {exc}") from exc
    try:
        conn.autocommit = True
        with conn.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            if cursor.fetchone() is None:
                cursor.execute(f'CREATE DATABASE "{name}"')
    finally:
        conn.close()
    env = {"DATABASE_URL": database_url}
    try:
        manage("migrate", "--noinput", "-v", "0", env=env)
        manage(
            "seed_techstore",
            "--reset",
            f"--products={products}",
            "--users=5",
            "--orders=0",
            f"--seed={seed}",
            "--as-of=2026-01-01",
            "--no-progress",
            env=env,
        )
    except ProcessStartError as exc:
        raise StackError(str(exc)) from exc


def monolith_bench_env(database_url: str, *, identity_key: str) -> dict[str, str]:
    """The monolith's environment in a bench: DEBUG off, as production runs it, so every secret its settings
    refuse at the development default gets a random value for this run. `identity_key` is
    INTERNAL_IDENTITY_KEY, which the bench's gateways must share (they sign X-Strangler-Identity)."""
    return {
        "DATABASE_URL": database_url,
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(48),
        "PAYMENT_WEBHOOK_SECRET": secrets.token_urlsafe(32),
        "INTERNAL_API_TOKEN": secrets.token_urlsafe(32),
        "INTERNAL_IDENTITY_KEY": identity_key,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "LOG_LEVEL": "WARNING",
    }


def gateway_bench_env(
    *, monolith_url: str, flags_file: Path, identity_key: str, prefix: Path, name: str
) -> dict[str, str]:
    """A bench gateway's environment: routes.yaml's legacy upstream, its flags file, the monolith's
    INTERNAL_IDENTITY_KEY, its audit log and state under the bench's temporary `prefix`; rate limits and
    the metrics port off (not what the benches measure)."""
    return {
        "MONOLITH_URL": monolith_url,
        "FLAGS_FILE": str(flags_file),
        "INTERNAL_IDENTITY_KEY": identity_key,
        "GATEWAY_AUDIT_LOG": str(prefix / f"audit-{name}.jsonl"),
        "STRANGLER_VAR_DIR": str(prefix),
        "GATEWAY_RATE_LIMIT_CLIENT": "",
        "GATEWAY_RATE_LIMIT_ROUTE": "",
        "GATEWAY_RATE_LIMIT_ROUTES": "",
        "GATEWAY_METRICS_PORT": "",
    }


def _nginx_conf(prefix: Path, ports: dict[str, int], workers: int) -> Path:
    text = NGINX_TEMPLATE.read_text()
    values = {"PREFIX": str(prefix), "WORKERS": str(workers), **{k: str(v) for k, v in ports.items()}}
    for key, value in values.items():
        text = text.replace("{{" + key + "}}", value)
    if "{{" in text:
        raise StackError(f"{NGINX_TEMPLATE} has a placeholder the bench does not fill")
    conf = prefix / "nginx.conf"
    conf.write_text(text)
    return conf


def _first_product(base_url: str) -> tuple[str, bytes]:
    listing = requests.get(f"{base_url}/api/v1/catalog/products?page_size=1", timeout=30)
    listing.raise_for_status()
    results = listing.json()["results"]
    if not results:
        raise StackError("the seeded catalogue has no active product")
    path = f"/api/v1/catalog/products/{results[0]['id']}"
    detail = requests.get(base_url + path, timeout=30)
    detail.raise_for_status()
    return path, detail.content


@contextlib.contextmanager
def running_stack(
    *, database_url: str, gateway_workers: int, log_dir: Path, gateway_args: tuple[str, ...] = ()
) -> Iterator[Stack]:
    """Start every process of the bench; stop them all (and remove the temporary prefix) on the way out."""
    nginx = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/sbin")
    if not nginx:
        raise StackError(
            "nginx is not installed (Debian: apt-get install nginx; `make bench-gateway` does it)"
        )
    log_dir.mkdir(parents=True, exist_ok=True)
    for old in log_dir.glob("gateway-bench.*.log"):
        old.unlink()
    prefix = Path(tempfile.mkdtemp(prefix="bench-gateway-"))
    prefix.chmod(0o755)  # nginx's workers run unprivileged and must read www/
    started: list[ManagedProcess] = []

    def start(process: ManagedProcess, timeout: float = 60.0) -> int:
        """Start `process`; return its process group (its own session: the group id is its pid)."""
        started.append(process)
        try:
            process.start(timeout=timeout)
        except ProcessStartError as exc:
            raise StackError(str(exc)) from exc
        return process._proc.pid  # ManagedProcess keeps its Popen private; started in its own session

    def log(name: str) -> Path:
        return log_dir / f"gateway-bench.{name}.log"

    try:
        monolith_port = free_port()
        identity_key = secrets.token_urlsafe(32)
        monolith_env = monolith_bench_env(database_url, identity_key=identity_key)
        monolith = monolith_process(port=monolith_port, env=monolith_env, log_path=log("monolith"))
        monolith_group = start(replace(monolith, ready_url=f"http://127.0.0.1:{monolith_port}/readyz"))
        monolith_url = f"http://127.0.0.1:{monolith_port}"
        product_path, product_body = _first_product(monolith_url)
        stack = Stack(product_path=product_path, gateway_workers=gateway_workers)

        (prefix / "www").mkdir()
        (prefix / "www" / "product.json").write_bytes(product_body)
        ports = {
            "ORIGIN_PORT": free_port(),
            "MONOLITH_PORT": monolith_port,
            "PROXY_MONOLITH_PORT": free_port(),
            "PROXY_ORIGIN_PORT": free_port(),
        }
        conf = _nginx_conf(prefix, ports, workers=os.cpu_count() or 1)
        origin_url = f"http://127.0.0.1:{ports['ORIGIN_PORT']}"
        argv = [nginx, "-p", str(prefix), "-c", str(conf), "-e", str(prefix / "error.log")]
        nginx_group = start(ManagedProcess("nginx", argv, origin_url + product_path, log_path=log("nginx")))
        stack.groups.update({("direct", "monolith"): monolith_group, ("direct", "static"): nginx_group})
        stack.groups.update({("nginx", "monolith"): nginx_group, ("nginx", "static"): nginx_group})
        stack.urls[("direct", "monolith")] = monolith_url
        stack.urls[("direct", "static")] = origin_url
        stack.urls[("nginx", "monolith")] = f"http://127.0.0.1:{ports['PROXY_MONOLITH_PORT']}"
        stack.urls[("nginx", "static")] = f"http://127.0.0.1:{ports['PROXY_ORIGIN_PORT']}"

        mitmdump = str(Path(python_argv()[0]).with_name("mitmdump"))
        flags_file = prefix / "flags.json"
        shutil.copy(REPO_ROOT / "flags" / "bootstrap" / "features.json", flags_file)
        for upstream, upstream_url in (("monolith", monolith_url), ("static", origin_url)):
            port = free_port()
            argv = [mitmdump, "-q", "--mode", f"reverse:{upstream_url}"]
            argv += ["--listen-host", "127.0.0.1", "--listen-port", str(port)]
            url = f"http://127.0.0.1:{port}"
            stack.groups[("stock_mitmdump", upstream)] = start(
                ManagedProcess(
                    f"mitmdump-{upstream}", argv, url + product_path, log_path=log(f"mitmdump-{upstream}")
                )
            )
            stack.urls[("stock_mitmdump", upstream)] = url

            # the lean master with no addon, same workers: the floor the addon chain is judged against
            port = free_port()
            argv = python_argv(
                "-m", "strangler_proxy", "--listen", f"127.0.0.1:{port}", "--workers", str(gateway_workers),
                "--upstream", upstream_url, "--addons", "passthrough", *gateway_args,
            )  # fmt: skip
            url = f"http://127.0.0.1:{port}"
            lean = ManagedProcess(
                f"lean-{upstream}", argv, url + product_path, log_path=log(f"lean-{upstream}")
            )
            stack.groups[("lean", upstream)] = start(lean)
            stack.urls[("lean", upstream)] = url

            port = free_port()
            argv = python_argv(
                "-m", "strangler_proxy", "--listen", f"127.0.0.1:{port}", "--workers", str(gateway_workers),
                "--upstream", upstream_url, *gateway_args,
            )  # fmt: skip
            env = gateway_bench_env(  # the bootstrap flags: every route on legacy
                monolith_url=upstream_url,
                flags_file=flags_file,
                identity_key=identity_key,
                prefix=prefix,
                name=upstream,
            )
            url = f"http://127.0.0.1:{port}"
            stack.groups[("gateway", upstream)] = start(
                ManagedProcess(
                    f"gateway-{upstream}",
                    argv,
                    url + product_path,
                    env=env,
                    log_path=log(f"gateway-{upstream}"),
                )
            )
            stack.urls[("gateway", upstream)] = url

            # the same gateway serving HTTPS (TLS 1.3) with a configured certificate: the TLS figure
            if stack.ca_file is None:
                ca, cert, key = edge_certificate(prefix)
                stack.ca_file = str(ca)
            port = free_port()
            tls_argv = python_argv(
                "-m", "strangler_proxy", "--listen", f"127.0.0.1:{port}", "--workers", str(gateway_workers),
                "--upstream", upstream_url, "--tls-cert", str(cert), "--tls-key", str(key), *gateway_args,
            )  # fmt: skip
            tls_env = gateway_bench_env(
                monolith_url=upstream_url, flags_file=flags_file, identity_key=identity_key, prefix=prefix,
                name=f"{upstream}-tls",
            )  # fmt: skip
            # ready when it answers; a plain request to the TLS port gets its 400 tls_required
            stack.groups[("gateway_tls", upstream)] = start(
                ManagedProcess(f"gateway-tls-{upstream}", tls_argv, f"http://127.0.0.1:{port}/",
                               env=tls_env, log_path=log(f"gateway-tls-{upstream}")))  # fmt: skip
            stack.urls[("gateway_tls", upstream)] = f"https://127.0.0.1:{port}"
        stack.versions = _versions(nginx)
        _check_answers(stack, product_body)
        yield stack
    finally:
        for process in reversed(started):
            process.stop()
        shutil.rmtree(prefix, ignore_errors=True)


def _check_answers(stack: Stack, body: bytes) -> None:
    """Every config must answer 200 with the product before anything is measured."""
    for (config, upstream), base in stack.urls.items():
        answer = requests.get(base + stack.product_path, timeout=30, verify=stack.ca_file or True)
        if answer.status_code != 200 or answer.content != body:
            raise StackError(
                f"{config} -> {upstream} answered {answer.status_code} {answer.content[:200]!r}, "
                "not the product"
            )


def _versions(nginx: str) -> dict[str, str]:
    import subprocess
    from importlib import metadata

    nginx_version = subprocess.run([nginx, "-v"], capture_output=True, text=True, check=False).stderr.strip()
    wrk_version = subprocess.run(["wrk", "-v"], capture_output=True, text=True, check=False).stdout
    return {
        "mitmproxy": metadata.version("mitmproxy"),
        "gunicorn": metadata.version("gunicorn"),
        "django": metadata.version("django"),
        "nginx": nginx_version.removeprefix("nginx version: "),
        "wrk": (wrk_version.split() or ["?"])[1] if wrk_version else "?",
        "uvloop": _optional_version("uvloop"),
        "aiohttp": _optional_version("aiohttp"),
    }


def _optional_version(name: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def gateway_addon_names() -> list[str]:
    """The gateway addons the bench's gateway loads (strangler_proxy/addon.py's composition)."""
    import importlib.util

    try:
        from strangler_proxy.addon import CHAIN
    except ImportError:
        return []
    return [name for module, name in CHAIN if importlib.util.find_spec(module) is not None]
