"""How the gateway is started, in one place for the `gateway` command, `make gateway` and the tests:
check the route table against the flags store, then run the fast runner (strangler_proxy/server, several
workers on one port) when this checkout has it, else `mitmdump -s strangler_proxy/addon.py`."""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
ADDON_SCRIPT = PACKAGE_DIR / "addon.py"
DEFAULT_ROUTES = PACKAGE_DIR / "routes.yaml"
RUNNERS = ("auto", "fast", "mitmdump")

# mitmdump settings every gateway run needs (see /work/shared/notes/mitmproxy-as-gateway.md):
# lazy upstream connections (eager ones pin a worker of the default upstream when a request is routed
# elsewhere), no flow printing, large bodies streamed instead of buffered.
GATEWAY_SETTINGS = {
    "connection_strategy": "lazy",
    "flow_detail": "0",
    "stream_large_bodies": "1m",
    "keep_host_header": "true",  # the client's Host, for X-Forwarded-Host (RequestGuard)
    "termlog_verbosity": "warn",
}


class LaunchError(ValueError):
    """The gateway cannot be started as asked (the message says why)."""


def mitmdump_argv(
    *, legacy_url: str, listen_host: str, port: int, routes: Path | None = None, mitmdump: str | None = None
) -> list[str]:
    """argv for `mitmdump --mode reverse:<legacy> -s strangler_proxy/addon.py` with the gateway's settings."""
    binary = mitmdump or str(Path(sys.executable).with_name("mitmdump"))
    argv = [
        binary,
        "--mode",
        f"reverse:{legacy_url}",
        "--listen-host",
        listen_host,
        "--listen-port",
        str(port),
        "-s",
        str(ADDON_SCRIPT),
    ]
    settings = dict(GATEWAY_SETTINGS)
    if routes is not None:
        settings["strangler_routes"] = str(routes)
    for name, value in settings.items():
        argv += ["--set", f"{name}={value}"]
    return argv


def fast_runner_available() -> bool:
    return importlib.util.find_spec("strangler_proxy.server") is not None


def split_listen(listen: str) -> tuple[str, int]:
    host, sep, port = listen.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise LaunchError(f"--listen {listen!r}: expected HOST:PORT")
    return host.strip("[]"), int(port)


@dataclass(frozen=True)
class Launch:
    """What `gateway` will run: which runner, its argv, and the environment additions."""

    runner: str
    argv: list[str]
    env: dict[str, str]


def plan_launch(
    *,
    listen: str,
    routes: Path,
    workers: int,
    upstream: str,
    runner: str = "auto",
    env: Mapping[str, str] | None = None,
) -> Launch:
    """Choose the runner and build its command line. `auto`: the fast runner when this checkout has it."""
    env = os.environ if env is None else env
    if runner not in RUNNERS:
        raise LaunchError(f"--runner {runner!r}: one of {', '.join(RUNNERS)}")
    if workers < 1:
        raise LaunchError(f"--workers {workers}: at least 1")
    host, port = split_listen(listen)
    if fast_runner_available():
        from strangler_proxy.server.config import ConfigError, check_upstream

        try:
            upstream = check_upstream(upstream)
        except ConfigError as exc:
            raise LaunchError(exc.message) from None
    chosen = runner if runner != "auto" else ("fast" if fast_runner_available() else "mitmdump")
    if chosen == "fast" and not fast_runner_available():
        raise LaunchError("--runner fast: strangler_proxy/server is not in this checkout")
    if chosen == "mitmdump" and workers != 1:
        raise LaunchError("--workers: mitmdump runs one process; use the fast runner for more")
    additions = {"ROUTES_FILE": str(routes)}
    if not env.get("MONOLITH_URL"):
        additions["MONOLITH_URL"] = upstream  # routes.yaml's legacy upstream follows the reverse target
    if chosen == "fast":
        argv = [sys.executable, "-m", "strangler_proxy", "--listen", listen, "--workers", str(workers),
                "--upstream", upstream, "--routes", str(routes)]  # fmt: skip
    else:
        argv = mitmdump_argv(legacy_url=upstream, listen_host=host, port=port, routes=routes)
    return Launch(chosen, argv, additions)


def check_routes(routes: Path, env: Mapping[str, str] | None = None) -> int:
    """Validate routes.yaml against the flags store the gateway will use; the number of routes.
    Raises RoutesError (naming the file and every line with a problem) or FlagsError."""
    import logging

    from flags import Flags, FlagsConfig
    from strangler_proxy.routing import load_routes_with_flags

    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # the flags client's scheduler chatter
    env = dict(os.environ if env is None else env)
    with Flags(FlagsConfig.from_env(env)) as flags:
        return len(load_routes_with_flags(routes, flags, env).routes)
