"""One worker process: a LeanMaster serving the socket its parent bound, until SIGTERM/SIGINT.

Started by the supervisor as `python [-O] -m strangler_proxy` with STRANGLER_PROXY_WORKER in the environment
(the RunnerConfig, the inherited socket's fd, the fd to report readiness on). It writes one line to the
readiness fd once its listener is up; a stop signal makes it stop accepting, wait for the requests in flight
(at most graceful_timeout) and exit 0. Configuration errors exit 2 before readiness.
"""

from __future__ import annotations

import asyncio
import ctypes
import gc
import importlib
import json
import logging
import os
import signal
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mitmproxy import exceptions, hooks, http, options

from strangler_proxy.breakers import attach_shared_board

from .config import RunnerConfig
from .master import LeanMaster, lean_addons, serve_on_inherited_socket
from .tls import EdgeTls

WORKER_ENV = "STRANGLER_PROXY_WORKER"
WORKER_HEADER = "X-Strangler-Worker"
EXIT_CONFIG = 2
_IN_FLIGHT = "strangler.server.in_flight"
_PR_SET_PDEATHSIG = 1
_LOG_LEVELS = {"debug": "debug", "info": "info", "warning": "warn", "error": "error"}


class WorkerStartError(Exception):
    """The worker cannot start with this configuration (the message says why)."""


@dataclass(frozen=True, slots=True)
class WorkerSpec:
    config: RunnerConfig
    slot: int
    listen_fd: int
    ready_fd: int
    parent_pid: int
    breaker_fd: int | None = None  # the breaker board the parent shares with every worker

    def to_env(self) -> str:
        return json.dumps(
            {
                "config": self.config.to_json(),
                "slot": self.slot,
                "listen_fd": self.listen_fd,
                "ready_fd": self.ready_fd,
                "parent_pid": self.parent_pid,
                "breaker_fd": self.breaker_fd,
            }
        )

    @classmethod
    def from_env(cls, raw: str) -> WorkerSpec:
        data = json.loads(raw)
        return cls(
            config=RunnerConfig.from_json(data["config"]),
            slot=int(data["slot"]),
            listen_fd=int(data["listen_fd"]),
            ready_fd=int(data["ready_fd"]),
            parent_pid=int(data["parent_pid"]),
            breaker_fd=data.get("breaker_fd"),
        )


class WorkerLifecycle:
    """Reports readiness to the parent, counts requests in flight, and stops gracefully on a signal."""

    name = "strangler_worker"

    def __init__(self, master: LeanMaster, ready_fd: int, graceful_timeout: float) -> None:
        self.master = master
        self.ready_fd: int | None = ready_fd
        self.graceful_timeout = graceful_timeout
        self.in_flight = 0
        self.stopping = False
        self._drain: asyncio.Task | None = None

    def running(self) -> None:
        if self.ready_fd is not None:
            os.write(self.ready_fd, f"ready {os.getpid()}\n".encode())
            os.close(self.ready_fd)
            self.ready_fd = None

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        flow.metadata[_IN_FLIGHT] = True
        self.in_flight += 1

    def response(self, flow: http.HTTPFlow) -> None:
        if flow.metadata.pop(_IN_FLIGHT, False):
            self.in_flight -= 1

    error = response

    def stop(self) -> None:
        """First signal: drain then exit; a second one exits at once."""
        if self.stopping:
            self.master.shutdown()
            return
        self.stopping = True
        self._drain = asyncio.get_running_loop().create_task(self._drain_then_exit())

    async def _drain_then_exit(self) -> None:
        proxyserver = self.master.addons.get("proxyserver")
        try:
            if proxyserver is not None:
                await proxyserver.servers.update([])  # close our listening socket: no new connections
            loop = asyncio.get_running_loop()
            deadline = loop.time() + self.graceful_timeout
            while self.in_flight > 0 and loop.time() < deadline:
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.05)  # let the last responses leave the write buffers
        finally:
            self.master.shutdown()


class WorkerHeader:
    """Debugging aid (--worker-header): which worker process answered."""

    name = "strangler_worker_header"

    def __init__(self) -> None:
        self.value = str(os.getpid())

    def responseheaders(self, flow: http.HTTPFlow) -> None:
        if flow.response is not None:
            flow.response.headers[WORKER_HEADER] = self.value

    response = responseheaders


def gateway_addons(addon_set: str) -> list[Any]:
    """The gateway's addons: strangler_proxy/addon.py's `addons` list (see --addons)."""
    if addon_set == "passthrough":
        return []
    try:
        module = importlib.import_module("strangler_proxy.addon")
    except ModuleNotFoundError as exc:
        if exc.name != "strangler_proxy.addon" or addon_set == "gateway":
            raise WorkerStartError(f"cannot import the gateway addons: {exc}") from exc
        return []
    found = list(getattr(module, "addons", None) or [])
    if addon_set == "gateway" and not found:
        raise WorkerStartError("--addons gateway: strangler_proxy/addon.py lists no addons")
    return found


def gateway_settings(config: RunnerConfig) -> dict[str, Any]:
    """mitmproxy options for a gateway; --set values given by the operator are applied after these."""
    settings: dict[str, Any] = {
        "mode": [config.mode],
        "listen_host": config.host,
        "listen_port": config.port,
        # Eager connections open one to the default upstream for every client, even when the request is
        # routed elsewhere; such an idle connection pins a gunicorn sync worker (see the notes).
        "connection_strategy": "lazy",
        "stream_large_bodies": config.stream_large_bodies,
        "keep_host_header": True,  # the client's Host, for X-Forwarded-Host (RequestGuard)
        "body_size_limit": config.body_size_limit,
        "termlog_verbosity": _LOG_LEVELS[config.log_level],
    }
    if config.routes:
        settings["strangler_routes"] = config.routes
    if config.tls_options:
        settings.update(json.loads(config.tls_options))
    return settings


def build_master(config: RunnerConfig, ready_fd: int) -> tuple[LeanMaster, WorkerLifecycle]:
    """A configured LeanMaster: lean mitmproxy addons, the gateway's addons, our lifecycle addons."""
    opts = options.Options()
    master = LeanMaster(opts)
    lifecycle = WorkerLifecycle(master, ready_fd, config.graceful_timeout)
    gateway = gateway_addons(config.addon_set)
    master.addons.add(*lean_addons())
    master.addons.add(*gateway)
    settings = gateway_settings(config)
    if "strangler_routes" in settings and "strangler_routes" not in opts:
        raise WorkerStartError("--routes was given but no gateway addon declares `strangler_routes`")
    opts.update(**settings)
    opts.set(*config.settings)  # the operator's --set NAME=VALUE, over our defaults
    # Like mitmdump's script loader does for `-s addon.py`: one configure call with every option.
    everything = hooks.ConfigureHook(set(opts.keys()))
    for addon in gateway:
        master.addons.invoke_addon_sync(addon, everything)
    edge = [EdgeTls(config.hsts_max_age)] if config.tls_cert else []
    master.addons.add(*edge, *([WorkerHeader()] if config.worker_header else []), lifecycle)
    return master, lifecycle


async def serve(spec: WorkerSpec, sock: socket.socket) -> None:
    config = spec.config
    logging.getLogger().setLevel(config.log_level.upper())
    serve_on_inherited_socket(sock, config.backlog)
    if spec.breaker_fd is not None:
        attach_shared_board(spec.breaker_fd)  # before the Forwarder is configured
    master, lifecycle = build_master(config, spec.ready_fd)
    _tune_gc()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, lifecycle.stop)
    loop.add_signal_handler(signal.SIGINT, lifecycle.stop)
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    await master.run()


def _tune_gc() -> None:
    """Objects alive after start-up (modules, addons, route tables) leave the collector's view, so the full
    collections that per-request garbage triggers do not walk them again and again."""
    gc.collect()
    gc.freeze()


def _exit_with_parent(parent_pid: int) -> None:
    """Ask the kernel for SIGTERM when the supervisor dies, so no orphan keeps serving the port."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):  # pragma: no cover (not Linux)
        pass
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        sys.exit(1)


def loop_factory(choice: str) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop when chosen (or installed, with "auto"); None: asyncio's default loop."""
    if choice == "asyncio":
        return None
    try:
        import uvloop
    except ImportError:
        if choice == "uvloop":
            raise WorkerStartError("--loop uvloop: uvloop is not installed") from None
        return None
    return uvloop.new_event_loop


def worker_main(raw_spec: str) -> int:
    spec = WorkerSpec.from_env(raw_spec)
    _exit_with_parent(spec.parent_pid)
    sock = socket.socket(fileno=spec.listen_fd)
    prefix = f"strangler_proxy worker {spec.slot} (pid {os.getpid()})"
    profile_path = os.environ.get("GATEWAY_PROFILE")  # diagnostics: a cProfile dump per worker at exit
    profiler = None
    if profile_path:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    try:
        asyncio.run(serve(spec, sock), loop_factory=loop_factory(spec.config.loop))
    except (WorkerStartError, exceptions.OptionsError, exceptions.AddonManagerError) as exc:
        print(f"{prefix}: {exc}", file=sys.stderr, flush=True)
        return EXIT_CONFIG
    except KeyboardInterrupt:
        return 0
    finally:
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(f"{profile_path}.w{spec.slot}.{os.getpid()}")
    return 0
