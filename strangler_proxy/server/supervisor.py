"""The parent process: binds the port, starts one worker per slot, restarts crashed workers, stops them all.

Sharing the port: the parent first binds the address WITHOUT SO_REUSEPORT as a probe, so an address
already in use — by another runner, a stock mitmdump, anything — is refused with EADDRINUSE. It then
creates one SO_REUSEPORT listening socket per worker slot and hands each worker its own (fd inheritance),
so the kernel balances new connections across the workers (a single shared socket would let whichever worker
wakes first accept a whole burst of keep-alive connections). The parent keeps its copy of every socket:
connections queued on a crashed worker's socket wait for its replacement instead of being reset.
A process that sets SO_REUSEPORT itself, as the same user, could still join the group after the probe;
nothing in this project does.
"""

from __future__ import annotations

import contextlib
import errno
import os
import selectors
import signal
import socket
import subprocess
import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from contracts.cli import EnvironmentUnusable, port_in_use
from strangler_proxy.breakers import SharedBoard

from .config import RunnerConfig
from .worker import WORKER_ENV, WorkerSpec

PACKAGE_ROOT = Path(__file__).resolve().parents[2]  # the directory holding strangler_proxy/
EXIT_OK, EXIT_CRASHING, EXIT_REFUSED = 0, 1, 2
KILL_GRACE = 5.0  # after graceful_timeout, before SIGKILL


class RunnerStartError(EnvironmentUnusable):
    """The runner cannot start: a worker failed while starting, metrics port in use (message says why)."""

    def __init__(self, message: str, *, code: str = "gateway_start_failed") -> None:
        super().__init__(code, message)


def bind_listeners(host: str, port: int, count: int, backlog: int) -> list[socket.socket]:
    """`count` listening sockets on host:port in one SO_REUSEPORT group; refuse an address in use."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES, errno.EADDRNOTAVAIL):
                raise port_in_use(host, port, "--listen", exc) from exc
            raise RunnerStartError(f"cannot bind {host}:{port}: {exc.strerror}") from exc
        port = probe.getsockname()[1]
    listeners: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket(family, socket.SOCK_STREAM)
            listeners.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind((host, port))
            sock.listen(backlog)
    except OSError as exc:
        for sock in listeners:
            sock.close()
        raise RunnerStartError(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
    return listeners


@dataclass
class Slot:
    """One worker position: its listening socket, and the process currently serving it."""

    index: int
    sock: socket.socket
    process: subprocess.Popen | None = None
    ready_fd: int | None = None  # read end of the worker's readiness pipe, until it reports
    ready: bool = False
    restart_at: float | None = None


@dataclass
class Supervisor:
    config: RunnerConfig
    listeners: list[socket.socket]
    out: TextIO = field(default_factory=lambda: sys.stderr)
    on_worker_exit: Callable[[int], None] | None = None
    slots: list[Slot] = field(init=False)
    crashes: deque = field(init=False, default_factory=deque)
    stopping: bool = field(init=False, default=False)

    def __post_init__(self) -> None:
        self.slots = [Slot(i, sock) for i, sock in enumerate(self.listeners)]
        self.breakers = SharedBoard.create()  # breaker states every worker shares (strangler_proxy.breakers)
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._selector.register(self._wake_r, selectors.EVENT_READ, None)
        self._signals: list[int] = []

    @property
    def port(self) -> int:
        return self.listeners[0].getsockname()[1]

    # ------------------------------------------------------------ running

    def run(self) -> int:
        previous = {sig: signal.signal(sig, self._on_signal) for sig in _HANDLED_SIGNALS}
        old_wakeup = signal.set_wakeup_fd(self._wake_w, warn_on_full_buffer=False)
        try:
            for slot in self.slots:
                self._spawn(slot)
            code = self._wait_until_ready()
            if code is not None:
                return code
            self._say(
                f"serving on {'https' if self.config.tls_cert else 'http'}://{self._host()}:{self.port} -> "
                f"{self.config.upstream} with "
                f"{len(self.slots)} workers (pids {', '.join(str(s.process.pid) for s in self.slots)})"
            )
            return self._supervise()
        finally:
            self._stop_all()
            signal.set_wakeup_fd(old_wakeup)
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            self._selector.close()
            self.breakers.close()
            os.close(self.breakers.fd)
            os.close(self._wake_r)
            os.close(self._wake_w)

    def _wait_until_ready(self) -> int | None:
        deadline = time.monotonic() + self.config.startup_timeout
        while not all(slot.ready for slot in self.slots):
            if self._handle_signals():
                return EXIT_OK
            for slot in self.slots:
                if not slot.ready and slot.process.poll() is not None:
                    self._say(
                        f"worker {slot.index} exited with {slot.process.returncode} while starting; "
                        "stopping (see its message above)"
                    )
                    return EXIT_REFUSED
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self._say(f"workers did not start within {self.config.startup_timeout:.0f} s; stopping")
                return EXIT_REFUSED
            self._poll(min(remaining, 1.0))
        return None

    def _supervise(self) -> int:
        while True:
            if self._handle_signals():
                return EXIT_OK
            now = time.monotonic()
            for slot in self.slots:
                if slot.process is not None and slot.process.poll() is not None:
                    code = slot.process.returncode
                    if self.on_worker_exit is not None:
                        self.on_worker_exit(slot.process.pid)
                    slot.process, slot.ready = None, False
                    self._close_ready(slot)
                    self.crashes.append(now)
                    while self.crashes and now - self.crashes[0] > self.config.restart_window:
                        self.crashes.popleft()
                    if len(self.crashes) > self.config.max_restarts:
                        self._say(
                            f"worker {slot.index} exited with {code}; {len(self.crashes)} crashes within "
                            f"{self.config.restart_window:.0f} s: giving up"
                        )
                        return EXIT_CRASHING
                    delay = min(0.1 * 2 ** (len(self.crashes) - 1), 5.0)
                    self._say(f"worker {slot.index} exited with {code}; restarting it in {delay:.1f} s")
                    slot.restart_at = now + delay
                if slot.process is None and slot.restart_at is not None and now >= slot.restart_at:
                    slot.restart_at = None
                    self._spawn(slot)
            pending = [s.restart_at for s in self.slots if s.restart_at is not None]
            self._poll(max(0.0, min([1.0, *(t - time.monotonic() for t in pending)])))

    # ------------------------------------------------------------ workers

    def _spawn(self, slot: Slot) -> None:
        ready_r, ready_w = os.pipe()
        spec = WorkerSpec(
            config=self.config,
            slot=slot.index,
            listen_fd=slot.sock.fileno(),
            ready_fd=ready_w,
            parent_pid=os.getpid(),
            breaker_fd=self.breakers.fd,
        )
        argv = [sys.executable, *(["-O"] if self.config.optimize else []), "-m", "strangler_proxy"]
        python_path = os.pathsep.join(p for p in (str(PACKAGE_ROOT), os.environ.get("PYTHONPATH")) if p)
        env = {
            **os.environ,
            WORKER_ENV: spec.to_env(),
            "STRANGLER_WORKER_ID": str(slot.index),  # e.g. the audit log's per-worker chain: <log>.w<slot>
            "PYTHONPATH": python_path,
            "PYTHONMALLOC": self.config.malloc,
        }
        try:
            slot.process = subprocess.Popen(  # noqa: S603 (our own interpreter and module)
                argv,
                env=env,
                pass_fds=(slot.sock.fileno(), ready_w, self.breakers.fd),
                stdin=subprocess.DEVNULL,
            )
        finally:
            os.close(ready_w)
        os.set_blocking(ready_r, False)
        slot.ready_fd, slot.ready = ready_r, False
        self._selector.register(ready_r, selectors.EVENT_READ, slot)

    def _close_ready(self, slot: Slot) -> None:
        if slot.ready_fd is not None:
            self._selector.unregister(slot.ready_fd)
            os.close(slot.ready_fd)
            slot.ready_fd = None

    def _poll(self, timeout: float) -> None:
        for key, _ in self._selector.select(timeout):
            if key.data is None:  # the signal wake-up pipe
                with contextlib.suppress(BlockingIOError):
                    while os.read(self._wake_r, 512):
                        pass
                continue
            slot: Slot = key.data
            try:
                data = os.read(key.fd, 512)
            except BlockingIOError:
                continue
            if data.startswith(b"ready"):
                slot.ready = True
            self._close_ready(slot)  # reported, or EOF: the worker exited (poll() will tell)

    def _stop_all(self) -> None:
        """Close our copies of the sockets, SIGTERM every worker, wait, then SIGKILL what is left."""
        self.stopping = True
        for sock in self.listeners:
            sock.close()
        for slot in self.slots:
            self._close_ready(slot)
        running = [slot.process for slot in self.slots if slot.process and slot.process.poll() is None]
        for process in running:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + self.config.graceful_timeout + KILL_GRACE
        for process in running:
            try:
                process.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self._say(f"worker pid {process.pid} did not stop in time: killing it")
                process.kill()
                process.wait()

    # ------------------------------------------------------------ signals

    def _on_signal(self, signum: int, _frame: object) -> None:
        self._signals.append(signum)

    def _handle_signals(self) -> bool:
        """True when a stop signal arrived (SIGCHLD only wakes the loop up)."""
        received, self._signals = self._signals, []
        stop = [s for s in received if s in _STOP_SIGNALS]
        if stop:
            self._say(f"{signal.Signals(stop[0]).name}: stopping the workers gracefully")
        return bool(stop)

    def _host(self) -> str:
        return f"[{self.config.host}]" if ":" in self.config.host else self.config.host

    def _say(self, message: str) -> None:
        print(f"strangler_proxy: {message}", file=self.out, flush=True)


_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
_HANDLED_SIGNALS = (*_STOP_SIGNALS, signal.SIGCHLD)
