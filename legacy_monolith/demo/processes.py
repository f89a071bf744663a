"""Start real processes (gunicorn, the sandbox), wait until they answer, stop them whatever happens.

Used by `make demo`, the e2e tests and the benchmarks, so all three run the stack the same way.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import requests

REPO_ROOT = Path(__file__).resolve().parents[2]


class ProcessStartError(RuntimeError):
    """A managed process exited or never answered its readiness URL."""


def wait_for_ready_files(
    ready: Mapping[Path, subprocess.Popen], *, timeout: float = 90.0, log_hint: str = ""
) -> None:
    """Wait until every process has touched its ready file (a Celery worker's CELERY_READY_FILE, written
    when it starts consuming); ProcessStartError when one exits first or the time runs out."""
    deadline = time.monotonic() + timeout
    while waiting := [path for path in ready if not path.exists()]:
        for path in waiting:
            if ready[path].poll() is not None:
                raise ProcessStartError(
                    f"{path.stem} exited ({ready[path].returncode}) before it was ready{log_hint}"
                )
        if time.monotonic() > deadline:
            raise ProcessStartError(
                f"{', '.join(p.stem for p in waiting)} not ready within {timeout:.0f} s{log_hint}"
            )
        time.sleep(0.1)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stop_process_group(proc: subprocess.Popen, grace: float = 10.0) -> None:
    """SIGTERM the child's process group (it was started with start_new_session), SIGKILL after `grace`."""
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@dataclass
class ManagedProcess:
    """One child process with a readiness URL; its output goes to a log file for post-mortems."""

    name: str
    argv: Sequence[str]
    ready_url: str
    env: Mapping[str, str] = field(default_factory=dict)
    log_path: Path | None = None
    cwd: Path = REPO_ROOT
    _proc: subprocess.Popen | None = None
    _log: object = None

    def start(self, timeout: float = 30.0) -> ManagedProcess:
        full_env = {**os.environ, **self.env}
        if self.log_path:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log = open(self.log_path, "ab")  # noqa: SIM115 (closed in stop())
        out = self._log or subprocess.DEVNULL
        self._proc = subprocess.Popen(  # noqa: S603 (argv is ours)
            list(self.argv),
            cwd=self.cwd,
            env=full_env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise ProcessStartError(f"{self.name} exited with {self._proc.returncode}{self._log_hint()}")
            try:
                if requests.get(self.ready_url, timeout=1).status_code < 500:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.1)
        self.stop()
        raise ProcessStartError(
            f"{self.name} did not answer {self.ready_url} within {timeout:.0f} s{self._log_hint()}"
        )

    def stop(self, grace: float = 10.0) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            stop_process_group(proc, grace)
        if self._log:
            self._log.close()
            self._log = None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def _log_hint(self) -> str:
        return f" (log: {self.log_path})" if self.log_path else ""

    def __enter__(self) -> ManagedProcess:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def python_argv(*args: str) -> list[str]:
    """argv running this interpreter, so children use the same venv."""
    return [sys.executable, *args]


def monolith_process(
    *, port: int, env: Mapping[str, str], workers: int = 2, threads: int = 4, log_path: Path | None = None
) -> ManagedProcess:
    """The monolith under gunicorn, as it runs in production (gthread: keep-alive capable)."""
    gunicorn = str(Path(sys.executable).with_name("gunicorn"))
    argv = [
        gunicorn,
        "legacy_monolith.wsgi",
        "-b",
        f"127.0.0.1:{port}",
        "-w",
        str(workers),
        "-k",
        "gthread",
        "--threads",
        str(threads),
        "--graceful-timeout",
        "5",
    ]
    return ManagedProcess("monolith", argv, f"http://127.0.0.1:{port}/healthz", env=env, log_path=log_path)


def sandbox_process(
    *, port: int, env: Mapping[str, str] | None = None, log_path: Path | None = None
) -> ManagedProcess:
    """The simulated card gateways."""
    argv = python_argv("-m", "sandbox", "--host", "127.0.0.1", "--port", str(port))
    return ManagedProcess(
        "sandbox", argv, f"http://127.0.0.1:{port}/_sandbox/healthz", env=env or {}, log_path=log_path
    )


def service_process(
    service: str,
    *,
    port: int,
    env: Mapping[str, str],
    workers: int = 2,
    threads: int = 4,
    log_path: Path | None = None,
) -> ManagedProcess:
    """An extracted service (`python -m extracted.<service> serve`) under gunicorn on 127.0.0.1:port.
    Its database must be migrated first: `service_manage(service, "migrate", env=env)`."""
    argv = python_argv(
        "-m", f"extracted.{service}", "serve", "--bind", f"127.0.0.1:{port}",
        "--workers", str(workers), "--threads", str(threads),
    )  # fmt: skip
    return ManagedProcess(service, argv, f"http://127.0.0.1:{port}/readyz", env=env, log_path=log_path)


def service_manage(service: str, *args: str, env: Mapping[str, str]) -> subprocess.CompletedProcess:
    """Run `python -m extracted.<service> <args>` in a child process; raise on failure."""
    return _run_checked(python_argv("-m", f"extracted.{service}", *args), env=env)


def manage(*args: str, env: Mapping[str, str]) -> subprocess.CompletedProcess:
    """Run a manage.py command in a child process with the given environment; raise on failure."""
    return _run_checked(python_argv("manage.py", *args), env=env)


def _run_checked(argv: list[str], *, env: Mapping[str, str]) -> subprocess.CompletedProcess:
    result = subprocess.run(  # noqa: S603
        argv,
        cwd=REPO_ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        shown = " ".join(argv[1:])
        raise ProcessStartError(f"{shown} failed:\n{result.stdout}\n{result.stderr}")
    return result
