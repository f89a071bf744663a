"""INTERNAL_PORT: one gunicorn serving a public and an internal port; /internal/ and /metrics only on the
internal one (so a NetworkPolicy on the port guards them), everything else on both."""

import os
import subprocess
import uuid

import pytest
import requests

from chassis.settings import DEV_INTERNAL_API_TOKEN
from legacy_monolith.demo.processes import ManagedProcess, free_port, python_argv

SERVICE = "tests.chassis.chassis_service"
BEARER = {"Authorization": f"Bearer {DEV_INTERNAL_API_TOKEN}"}


@pytest.fixture(scope="module")
def two_ports(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ports")
    base = os.environ.get("CHASSIS_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/chassis")
    name = f"chassis_ports_{uuid.uuid4().hex[:8]}"
    admin = base.rsplit("/", 1)[0] + "/postgres"
    subprocess.run(["psql", admin, "-qc", f"CREATE DATABASE {name}"], check=True)
    public, internal = free_port(), free_port()
    env = {
        **os.environ,
        "CHASSIS_DATABASE_URL": base.rsplit("/", 1)[0] + "/" + name,
        "STRANGLER_VAR_DIR": str(tmp / "var"),
        "PROMETHEUS_MULTIPROC_DIR": str(tmp / "prom"),
        "INTERNAL_PORT": str(internal),
    }
    env.pop("REDIS_URL", None)
    env.pop("BROKER_URL", None)
    subprocess.run(python_argv("-m", SERVICE, "migrate", "--noinput", "-v0"), env=env, check=True)
    argv = python_argv(
        "-m", SERVICE, "serve", "--bind", f"127.0.0.1:{public}", "--workers", "1",
        "--", "--bind", f"127.0.0.1:{internal}",
    )  # fmt: skip
    process = ManagedProcess(
        "chassis_ports", argv, f"http://127.0.0.1:{internal}/healthz", env=env, log_path=tmp / "service.log"
    )
    try:
        with process:
            yield f"http://127.0.0.1:{public}", f"http://127.0.0.1:{internal}"
    finally:
        subprocess.run(["psql", admin, "-qc", f"DROP DATABASE IF EXISTS {name}"], check=True)


@pytest.mark.parametrize("path", ["/internal/ping", "/metrics"])
def test_internal_apis_and_metrics_are_not_served_on_the_public_port(two_ports, path):
    public, internal = two_ports
    refused = requests.get(public + path, headers=BEARER, timeout=5)
    assert refused.status_code == 404
    assert refused.json()["code"] == "route_not_available"
    assert requests.get(internal + path, headers=BEARER, timeout=5).status_code == 200


@pytest.mark.parametrize("path", ["/widgets/1", "/healthz", "/readyz"])
def test_the_public_api_and_health_answer_on_both_ports(two_ports, path):
    for base in two_ports:
        assert requests.get(base + path, timeout=5).status_code == 200, base


def test_a_host_header_naming_the_internal_port_does_not_open_the_public_one(two_ports):
    public, internal = two_ports
    port = internal.rsplit(":", 1)[1]
    response = requests.get(public + "/internal/ping", headers={**BEARER, "Host": f"x:{port}"}, timeout=5)
    assert response.status_code == 404
