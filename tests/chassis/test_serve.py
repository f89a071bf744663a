"""The chassis service as a real process: `python -m <service> migrate`, then `serve` (gunicorn)."""

import json
import os
import subprocess
import uuid

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from legacy_monolith.demo.processes import ManagedProcess, free_port, python_argv

SERVICE = "tests.chassis.chassis_service"
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """The chassis service under gunicorn (2 workers) on its own throwaway PostgreSQL database."""
    tmp = tmp_path_factory.mktemp("serve")
    base = os.environ.get("CHASSIS_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/chassis")
    name = f"chassis_serve_{uuid.uuid4().hex[:8]}"
    admin = base.rsplit("/", 1)[0] + "/postgres"
    subprocess.run(["psql", admin, "-qc", f"CREATE DATABASE {name}"], check=True)
    env = {
        **os.environ,
        "CHASSIS_DATABASE_URL": base.rsplit("/", 1)[0] + "/" + name,
        "STRANGLER_VAR_DIR": str(tmp / "var"),
        "PROMETHEUS_MULTIPROC_DIR": str(tmp / "prom"),
    }
    env.pop("REDIS_URL", None)
    env.pop("BROKER_URL", None)
    subprocess.run(python_argv("-m", SERVICE, "migrate", "--noinput", "-v0"), env=env, check=True)
    port = free_port()
    process = ManagedProcess(
        "chassis_service",
        python_argv("-m", SERVICE, "serve", "--bind", f"127.0.0.1:{port}", "--workers", "2"),
        f"http://127.0.0.1:{port}/healthz",
        env=env,
        log_path=tmp / "service.log",
    )
    with process:
        yield f"http://127.0.0.1:{port}", tmp / "service.log"
    subprocess.run(["psql", admin, "-qc", f"DROP DATABASE IF EXISTS {name}"], check=True)


def test_the_served_service_is_ready_on_its_database(served):
    url, _ = served
    response = requests.get(f"{url}/readyz", timeout=5)
    assert (response.status_code, response.json()["checks"]["database"]) == (200, "ok")


def test_metrics_sum_every_gunicorn_worker(served):
    url, _ = served
    pids, sent = set(), 0
    while len(pids) < 2 and sent < 500:  # fresh connections until both workers have answered
        pids.add(requests.get(f"{url}/widgets/1", timeout=5, headers={"Connection": "close"}).json()["pid"])
        sent += 1
    assert len(pids) == 2
    text = requests.get(f"{url}/metrics", timeout=5).text
    samples = [
        s
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == "http_requests_total" and s.labels.get("route") == "widget-detail"
    ]
    assert sum(s.value for s in samples) == sent
    assert {s.labels.get("pid") for s in samples} == {None}  # summed across workers, not per process


def test_log_lines_are_json_with_the_gateway_trace_id(served):
    url, log_path = served
    requests.get(
        f"{url}/widgets/9", timeout=5, headers={"X-Request-ID": "serve-probe", "traceparent": TRACEPARENT}
    )
    lines = [json.loads(line) for line in log_path.read_text().splitlines() if line.startswith("{")]
    [line] = [
        line
        for line in lines
        if line.get("request_id") == "serve-probe" and line["logger"] == "django.request"
    ]
    assert line["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert (line["level"], line["service"], line["status_code"]) == ("WARNING", "chassis_service", 404)


def test_serve_without_bind_listens_on_the_services_default_port(tmp_path):
    """The chassis service's default port comes from CHASSIS_SERVICE_PORT (a free one here)."""
    port = free_port()
    env = {**os.environ, "CHASSIS_SERVICE_PORT": str(port), "STRANGLER_VAR_DIR": str(tmp_path / "var")}
    for name in ("CHASSIS_DATABASE_URL", "PROMETHEUS_MULTIPROC_DIR", "REDIS_URL", "BROKER_URL"):
        env.pop(name, None)
    help_text = subprocess.run(
        python_argv("-m", SERVICE, "serve", "--help"), env=env, capture_output=True, text=True, check=True
    ).stdout
    assert f"127.0.0.1:{port}" in " ".join(help_text.split())
    process = ManagedProcess(
        "chassis_service",
        python_argv("-m", SERVICE, "serve", "--workers", "1"),
        f"http://127.0.0.1:{port}/healthz",
        env=env,
        log_path=tmp_path / "service.log",
    )
    with process:
        assert requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5).json()["status"] == "ok"
    assert (tmp_path / "var" / "prometheus" / f"chassis_service-{port}").is_dir()
