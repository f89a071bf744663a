"""`.env.example` runs a whole local stack on non-default ports: every address follows the *_PORT
variables (contracts/addresses.py), `make sandbox|monolith|gateway|<service>` honour them, AUTH_ISSUER
follows the Auth service's address, and every variable the file sets is documented in the README."""

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from contracts.addresses import DEFAULT_PORTS, auth_issuer, port_of, url_of
from legacy_monolith.demo.processes import free_port

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def example_env() -> dict[str, str]:
    """The variables `.env.example` sets, as a shell that sources it sees them."""
    shown = subprocess.run(
        ["bash", "-c", "set -a; . ./.env.example; set +a; env -0"],
        cwd=REPO, env={"PATH": os.environ["PATH"]}, capture_output=True, text=True, check=True,
    )  # fmt: skip
    env = dict(item.split("=", 1) for item in shown.stdout.split("\0") if "=" in item)
    names = set(re.findall(r"^([A-Z][A-Z0-9_]*)=", (REPO / ".env.example").read_text(), re.M))
    return {name: env[name] for name in names}


def run(argv, env, **kwargs):
    return subprocess.run(
        argv,
        cwd=REPO,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
        **kwargs,
    )


def test_no_process_of_the_example_stack_listens_on_a_default_port(example_env):
    for name, default in DEFAULT_PORTS.items():
        port = port_of(name, example_env)
        assert port != default
        assert url_of(name, example_env) == f"http://127.0.0.1:{port}"
    defaults = "|".join(str(p) for p in DEFAULT_PORTS.values())
    assert not [v for v in example_env.values() if re.search(rf":({defaults})\b", v)]


def test_addresses_follow_the_ports_and_the_issuer_follows_the_auth_service():
    env = {"AUTH_SERVICE_PORT": "18102", "MONOLITH_URL": "https://shop.example"}

    assert url_of("AUTH_SERVICE", env) == "http://127.0.0.1:18102"
    assert auth_issuer(env) == "http://127.0.0.1:18102"
    assert auth_issuer({**env, "AUTH_ISSUER": "https://id.example"}) == "https://id.example"
    assert url_of("MONOLITH", env) == "https://shop.example"
    assert url_of("SANDBOX", {}) == "http://127.0.0.1:8900"
    with pytest.raises(ValueError, match="GATEWAY_PORT='x' is not a port"):
        port_of("GATEWAY", {"GATEWAY_PORT": "x"})


def test_the_processes_read_their_ports_from_the_example(example_env, tmp_path):
    env = {**example_env, "STRANGLER_VAR_DIR": str(tmp_path), "DATABASE_URL": f"sqlite:///{tmp_path}/m.db"}
    monolith = run(
        [sys.executable, "manage.py", "shell", "-c",
         "from django.conf import settings as s; "
         "print(s.PRODUCT_SERVICE_URL, s.PAYMENT_GATEWAYS['cardinal'])"],
        env,
    )  # fmt: skip
    assert monolith.stdout.split()[-2:] == ["http://127.0.0.1:18101", "http://127.0.0.1:18900/cardinal"]
    auth = run(
        [sys.executable, "-m", "extracted.auth_service", "shell", "-c",
         "from django.conf import settings as s; from chassis.management.commands.serve import default_bind; "
         "print(s.AUTH_ISSUER, default_bind())"],
        {**env, "AUTH_DATABASE_URL": f"sqlite:///{tmp_path}/a.db"},
    )  # fmt: skip
    assert auth.stdout.split()[-2:] == ["http://127.0.0.1:18102", "127.0.0.1:18102"]
    flags = tmp_path / "flags.json"
    gateway = run(
        [sys.executable, "manage.py", "gateway", "--print-command"], {**env, "FLAGS_FILE": str(flags)}
    )
    assert "--listen 127.0.0.1:18080" in gateway.stdout
    assert "--upstream http://127.0.0.1:18000" in gateway.stdout


def test_make_sandbox_listens_on_sandbox_port():
    port = free_port()
    process = subprocess.Popen(
        ["make", "--no-print-directory", "sandbox"],
        cwd=REPO, env={**os.environ, "SANDBOX_PORT": str(port)}, start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.get(f"http://127.0.0.1:{port}/_sandbox/healthz", timeout=1).ok:
                    break
            except requests.RequestException:
                time.sleep(0.2)
        else:
            pytest.fail(f"make sandbox did not listen on SANDBOX_PORT={port}")
    finally:
        os.killpg(process.pid, 15)
        process.wait(30)


def test_every_variable_of_the_example_is_documented_in_the_readme(example_env):
    readme = (REPO / "README.md").read_text()
    assert [name for name in sorted(example_env) if f"`{name}`" not in readme] == []
