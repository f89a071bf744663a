"""The fast runner (`python -m strangler_proxy`): workers sharing one port, supervision, graceful stop, and
the lean master's hook dispatch. Real processes against the stand-in upstream; waits are generous and nothing
asserts on speed."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from mitmproxy import exceptions, hooks, options
from mitmproxy.proxy.layers.http import HttpRequestHook
from mitmproxy.test import tflow

from strangler_proxy.server import config as runner_config
from strangler_proxy.server import master as lean
from strangler_proxy.server.worker import WORKER_HEADER, gateway_settings

from .conftest import REPO, free_port, write_flags_file

WAIT = 60.0  # seconds; only ever a bound on waiting, never a measurement


def wait_for(condition: Callable[[], object], what: str, timeout: float = WAIT) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def children_of(pid: int) -> set[int]:
    found = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            if int(fields[1]) == pid and fields[0] != "Z":
                found.add(int(entry))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@dataclass
class Runner:
    """A running `python -m strangler_proxy`, its log, and helpers to look at its workers."""

    process: subprocess.Popen
    port: int
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def workers(self) -> set[int]:
        return children_of(self.process.pid)

    def worker_pid_answering(self) -> int:
        """One request on a new connection; the pid of the worker that answered it."""
        answer = requests.get(f"{self.url}/ping", headers={"Connection": "close"}, timeout=30)
        assert answer.status_code == 200, answer.text
        return int(answer.headers[WORKER_HEADER])

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(WAIT)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        return self.process.returncode


def launch(log_path: Path, *args: str, port: int | None = None, env: dict | None = None) -> Runner:
    port = port or free_port()
    argv = [sys.executable, "-m", "strangler_proxy", "--listen", f"127.0.0.1:{port}", *args]
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            argv,
            cwd=REPO,
            env={**os.environ, **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Runner(process, port, log_path)


@pytest.fixture
def start_runner(tmp_path, standin_upstream) -> Iterator[Callable[..., Runner]]:
    """Start runners in front of the stand-in (pass-through addons, worker header on) and wait until they
    serve; every runner and its workers are stopped after the test."""
    started: list[Runner] = []

    def start(*args: str, workers: int = 2, port: int | None = None, ready: bool = True) -> Runner:
        base = ["--workers", str(workers), "--upstream", standin_upstream.url]
        base += ["--addons", "passthrough", "--worker-header", "--graceful-timeout", "30"]
        runner = launch(tmp_path / f"runner-{len(started)}.log", *base, *args, port=port)
        started.append(runner)
        if ready:
            wait_for(
                lambda: "serving on" in runner.log() or runner.process.poll() is not None,
                "the runner to serve",
            )
            assert runner.process.poll() is None, runner.log()
        return runner

    yield start
    for runner in started:
        pids = runner.workers()
        runner.stop()
        for pid in pids:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


# ---------------------------------------------------------------- several workers, one port


def test_every_worker_serves_the_one_port(start_runner):
    runner = start_runner(workers=2)
    workers = runner.workers()
    assert len(workers) == 2

    seen: set[int] = set()
    for _ in range(200):
        seen.add(runner.worker_pid_answering())
        if seen == workers:
            break
    assert seen == workers, f"only {seen} of {workers} answered over 200 connections"


def test_a_killed_worker_is_replaced_and_the_port_keeps_serving(start_runner):
    runner = start_runner(workers=2)
    before = runner.workers()
    victim = min(before)

    os.kill(victim, signal.SIGKILL)

    def replaced() -> set[int] | None:
        workers = runner.workers()
        return workers if len(workers) == 2 and victim not in workers else None

    replacement = (wait_for(replaced, "a replacement worker") - before).pop()
    assert "restarting it" in runner.log()
    seen = set()
    for _ in range(200):
        seen.add(runner.worker_pid_answering())
        if replacement in seen:
            break
    assert replacement in seen


def test_sigterm_stops_every_worker_and_frees_the_port(start_runner):
    runner = start_runner(workers=2)
    workers = runner.workers()

    assert runner.stop() == 0

    assert not [pid for pid in workers if alive(pid)]
    with (
        pytest.raises(ConnectionRefusedError),
        socket.create_connection(("127.0.0.1", runner.port), timeout=5),
    ):
        pass
    assert "stopping the workers gracefully" in runner.log()


def worker_environment(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(item.decode(errors="replace").split("=", 1) for item in raw if b"=" in item)


@pytest.mark.parametrize(("args", "allocator"), [((), "malloc"), (("--malloc", "pymalloc"), "pymalloc")])
def test_workers_run_on_the_chosen_allocator(start_runner, args, allocator):
    """glibc's malloc by default: after 10,000 slow connections a pymalloc worker kept ~11% more RSS, a malloc
    one gave it back (make drill-gateway-resources)."""
    runner = start_runner(*args, workers=1)
    (worker,) = runner.workers()
    assert worker_environment(worker)["PYTHONMALLOC"] == allocator
    assert runner.worker_pid_answering() == worker


def test_a_request_in_flight_finishes_when_the_runner_is_stopped(start_runner, standin_upstream):
    runner = start_runner(workers=1)
    standin_upstream.delay = 1.0
    answers: list[requests.Response] = []
    call = threading.Thread(target=lambda: answers.append(requests.get(f"{runner.url}/slow", timeout=WAIT)))
    call.start()
    wait_for(lambda: standin_upstream.requests_to("/slow"), "the request to reach the upstream")

    runner.process.send_signal(signal.SIGTERM)
    call.join(WAIT)

    assert len(answers) == 1
    assert answers[0].status_code == 200
    assert json.loads(answers[0].text)["path"] == "/slow"
    assert runner.process.wait(WAIT) == 0


def test_a_second_runner_on_the_same_port_is_refused(start_runner):
    first = start_runner(workers=1)
    second = start_runner(workers=1, port=first.port, ready=False)

    assert second.process.wait(WAIT) == 2
    assert "already in use" in second.log()
    assert first.worker_pid_answering() in first.workers()


def test_a_stock_mitmdump_cannot_take_the_port_of_a_running_runner(start_runner, tmp_path):
    runner = start_runner(workers=1)
    mitmdump = str(Path(sys.executable).with_name("mitmdump"))
    argv = [mitmdump, "-q", "--mode", "reverse:http://127.0.0.1:9", "--listen-host", "127.0.0.1"]
    done = subprocess.run(
        [*argv, "--listen-port", str(runner.port)], capture_output=True, text=True, timeout=WAIT, check=False
    )
    assert done.returncode != 0
    assert runner.worker_pid_answering() in runner.workers()


def test_workers_that_keep_crashing_make_the_runner_give_up(start_runner):
    runner = start_runner("--max-restarts", "1", "--restart-window", "600", workers=1)

    for _ in range(2):
        worker = wait_for(lambda: runner.workers(), "a worker").pop()
        os.kill(worker, signal.SIGKILL)
        wait_for(lambda w=worker: not alive(w), "the worker to die")

    assert runner.process.wait(WAIT) == 1
    assert "giving up" in runner.log()
    assert not runner.workers()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--set", "no_such_option=1"], "no_such_option"),
        (["--set", "stream_large_bodies=lots"], "stream_large_bodies"),
        (["--stream-large-bodies", "lots"], "--stream-large-bodies"),
        (["--upstream", "ftp://127.0.0.1:21"], "--upstream"),
        (["--routes", "/nonexistent/routes.yaml"], "no such file"),
        (["--set", "mode=regular"], "the runner sets this itself"),
    ],
)
def test_a_bad_configuration_is_refused_before_serving(start_runner, args, message):
    runner = start_runner(*args, workers=2, ready=False)

    assert runner.process.wait(WAIT) == 2
    assert message in runner.log()
    assert "serving on" not in runner.log()
    assert not runner.workers()


def test_the_gateway_addons_run_in_every_worker_and_the_parent_serves_their_metrics(
    tmp_path, standin_upstream
):
    flags = write_flags_file(tmp_path / "flags.json")
    metrics_port = free_port()
    env = {
        "MONOLITH_URL": standin_upstream.url,
        "FLAGS_FILE": str(flags),
        "GATEWAY_AUDIT_LOG": str(tmp_path / "audit.jsonl"),
        "GATEWAY_METRICS_PORT": str(metrics_port),
    }
    args = ["--workers", "2", "--upstream", standin_upstream.url, "--addons", "gateway", "--worker-header"]
    runner = launch(tmp_path / "gateway.log", *args, env=env)
    try:
        wait_for(lambda: "serving on" in runner.log() or runner.process.poll() is not None, "the gateway")
        assert runner.process.poll() is None, runner.log()

        answered_by: set[str] = set()
        for _ in range(200):
            answer = requests.get(
                f"{runner.url}/api/v1/catalog/products/1", headers={"Connection": "close"}, timeout=WAIT
            )
            assert answer.status_code == 200
            answered_by.add(answer.headers[WORKER_HEADER])
            if len(answered_by) == 2:
                break
        exposition = requests.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=WAIT).text

        assert len(answered_by) == 2
        assert answer.headers.get("X-Request-ID")
        assert answer.headers.get("traceparent")
        received = standin_upstream.requests_to("/api/v1/catalog/products/1")[-1]
        assert received.header("X-Request-ID") == answer.headers["X-Request-ID"]
        counted = sum(
            float(line.rsplit(" ", 1)[1])
            for line in exposition.splitlines()
            if line.startswith("strangler_requests_total{") and 'status="200"' in line
        )
        assert counted == len(standin_upstream.requests_to("/api/v1/catalog/products/1"))
    finally:
        assert runner.stop() == 0
    assert sorted(p.name for p in tmp_path.glob("audit.w*.jsonl")) == ["audit.w0.jsonl", "audit.w1.jsonl"]


# ---------------------------------------------------------------- configuration and version checks


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("127.0.0.1:8080", ("127.0.0.1", 8080)),
        ("0.0.0.0:80", ("0.0.0.0", 80)),
        ("8081", ("127.0.0.1", 8081)),
        ("[::1]:8080", ("::1", 8080)),
        ("localhost:0", ("localhost", 0)),
    ],
)
def test_listen_addresses_are_parsed(raw, expected):
    assert runner_config.parse_listen(raw) == expected


@pytest.mark.parametrize("raw", ["", "127.0.0.1", "127.0.0.1:http", "127.0.0.1:70000", "[::1]8080", ":80"])
def test_bad_listen_addresses_are_refused(raw):
    with pytest.raises(runner_config.ConfigError):
        runner_config.parse_listen(raw)


def test_the_default_worker_count_is_the_cpu_count():
    config = runner_config.parse_config(["--upstream", "http://127.0.0.1:8000"], env={})

    assert config.workers == len(os.sched_getaffinity(0))
    assert config.mode == "reverse:http://127.0.0.1:8000"
    assert config.stream_large_bodies == "1m"


def test_the_configuration_travels_to_the_workers_unchanged():
    config = runner_config.parse_config(
        ["--workers", "3", "--set", "a=1", "--set", "b=2", "--body-size-limit", "5m"], env={}
    )

    assert runner_config.RunnerConfig.from_json(config.to_json()) == config


def test_workers_run_mitmproxy_with_the_gateway_settings():
    config = runner_config.parse_config(
        ["--listen", "127.0.0.1:9000", "--upstream", "http://127.0.0.1:8000", "--routes", __file__], env={}
    )

    settings = gateway_settings(config)

    assert settings["mode"] == ["reverse:http://127.0.0.1:8000"]
    assert (settings["listen_host"], settings["listen_port"]) == ("127.0.0.1", 9000)
    assert settings["connection_strategy"] == "lazy"
    assert settings["stream_large_bodies"] == "1m"
    assert settings["body_size_limit"] is None
    assert settings["strangler_routes"] == __file__


def test_the_installed_mitmproxy_is_supported():
    assert lean.check_mitmproxy().startswith("12.")


@pytest.mark.parametrize("version", ["11.0.2", "13.0.0", "12.x"])
def test_an_unsupported_mitmproxy_is_refused(monkeypatch, version):
    from mitmproxy import version as mitmproxy_version

    monkeypatch.setattr(mitmproxy_version, "VERSION", version)

    with pytest.raises(lean.UnsupportedMitmproxy, match="mitmproxy"):
        lean.check_mitmproxy()


def test_a_changed_listen_hook_is_refused(monkeypatch):
    from mitmproxy.proxy import mode_servers

    async def listen(self, host, port, backlog):
        return []

    monkeypatch.setattr(mode_servers.ReverseInstance, "listen", listen)

    with pytest.raises(lean.UnsupportedMitmproxy, match="listen"):
        lean.check_mitmproxy()


# ---------------------------------------------------------------- hook dispatch of the lean master


class Recorder:
    def __init__(self, name: str, calls: list[str]) -> None:
        self.name = name
        self.calls = calls

    def request(self, flow) -> None:
        self.calls.append(f"{self.name}.request")


class AsyncRecorder(Recorder):
    async def request(self, flow) -> None:
        await asyncio.sleep(0)
        self.calls.append(f"{self.name}.request")


class Halting(Recorder):
    def request(self, flow) -> None:
        self.calls.append(f"{self.name}.request")
        raise exceptions.AddonHalt


class Failing(Recorder):
    def request(self, flow) -> None:
        raise RuntimeError("boom")


class Parent(Recorder):
    def __init__(self, name: str, calls: list[str], children: list) -> None:
        super().__init__(name, calls)
        self.addons = children


def dispatch(*addons: object, event: hooks.Hook | None = None) -> None:
    async def run() -> None:
        master = lean.LeanMaster(options.Options(), with_termlog=False)
        master.addons.add(*addons)
        await master.addons.handle_lifecycle(event or HttpRequestHook(tflow.tflow()))

    asyncio.run(run())


def test_hooks_run_in_chain_order_children_after_their_parent():
    calls: list[str] = []
    child = Recorder("child", calls)

    dispatch(Recorder("a", calls), Parent("parent", calls, [child]), AsyncRecorder("b", calls))

    assert calls == ["a.request", "parent.request", "child.request", "b.request"]


def test_addon_halt_stops_the_chain():
    calls: list[str] = []

    dispatch(Recorder("a", calls), Halting("halt", calls), Recorder("b", calls))

    assert calls == ["a.request", "halt.request"]


def test_a_failing_hook_is_logged_and_the_next_addon_still_runs(caplog):
    calls: list[str] = []

    dispatch(Failing("bad", calls), Recorder("b", calls))

    assert calls == ["b.request"]
    assert "Addon error: boom" in caplog.text


def test_an_addon_added_later_gets_the_hooks_too():
    calls: list[str] = []

    async def run() -> None:
        master = lean.LeanMaster(options.Options(), with_termlog=False)
        master.addons.add(Recorder("a", calls))
        await master.addons.handle_lifecycle(HttpRequestHook(tflow.tflow()))
        master.addons.add(Recorder("b", calls))
        await master.addons.handle_lifecycle(HttpRequestHook(tflow.tflow()))

    asyncio.run(run())

    assert calls == ["a.request", "a.request", "b.request"]


def test_the_update_hook_follows_a_flow_event_only_when_someone_handles_it():
    updates: list[object] = []

    class Watcher:
        def update(self, flows) -> None:
            updates.extend(flows)

    flow = tflow.tflow()
    dispatch(Watcher(), event=HttpRequestHook(flow))

    assert updates == [flow]


def test_the_lean_addons_leave_out_the_crl_request_hook():
    names = {type(addon).__name__: addon for addon in lean.lean_addons()}

    assert set(names) == {"Core", "Proxyserver", "NextLayer", "UpstreamTlsConfig", "ErrorCheck"}
    assert names["UpstreamTlsConfig"].request is None
    names["ErrorCheck"].finish()


def test_a_metrics_port_set_with_set_is_served_by_the_parent_and_not_passed_to_the_workers():
    from strangler_proxy.server.config import RunnerConfig
    from strangler_proxy.server.parent_metrics import ParentMetrics

    config = RunnerConfig(
        addon_set="gateway", settings=("strangler_metrics_port=9464", "strangler_forward=true")
    )
    parent = ParentMetrics.for_config(config)
    assert parent is not None
    assert parent.port == 9464
    assert parent.worker_config(config).settings == ("strangler_forward=true", "strangler_metrics_port=0")
    if parent.owns_directory:
        parent.stop()
