"""A real Unleash server for tests: installed by deploy/unleash/install.sh, started by deploy/unleash/run.sh
as a subprocess on a free port and its own freshly created PostgreSQL database, stopped at the end.

Reusable outside tests/flags: register this module as a pytest plugin (`pytest_plugins`) or import the
`unleash_server` fixture into a conftest. The server object hands out a FlagsConfig and the environment
variables a subprocess (e.g. mitmdump running the gateway) needs to use it."""

import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import requests

from flags.config import FlagsConfig
from legacy_monolith.demo.processes import free_port, stop_process_group

REPO = Path(__file__).resolve().parents[2]
INSTALL = REPO / "deploy" / "unleash" / "install.sh"
RUN = REPO / "deploy" / "unleash" / "run.sh"
ADMIN_TOKEN = "*:*.test-only-unleash-admin-token"
CLIENT_TOKEN = "default:development.test-only-unleash-client-token"
START_TIMEOUT = 120.0


def unleash_database_url() -> str:
    """The server's own database beside the suite's: `<DATABASE_URL's name>_unleash`, recreated each run."""
    if os.environ.get("UNLEASH_TEST_DATABASE_URL"):
        return os.environ["UNLEASH_TEST_DATABASE_URL"]
    base = os.environ.get("DATABASE_URL", "")
    parts = urlsplit(base)
    if parts.scheme.startswith("postgres") and parts.path.strip("/"):
        return urlunsplit((parts.scheme, parts.netloc, f"{parts.path.rstrip('/')}_unleash", "", ""))
    return "postgres://postgres@127.0.0.1:5432/strangler_unleash_test"


@dataclass
class UnleashServer:
    url: str
    admin_token: str
    client_token: str
    environment: str
    process: subprocess.Popen
    log_path: Path

    @property
    def api_url(self) -> str:
        """What UNLEASH_URL holds: the API root, as Unleash SDKs take it."""
        return f"{self.url}/api"

    def config(self, tmp_path: Path, **overrides) -> FlagsConfig:
        """A FlagsConfig that evaluates and changes flags on this server (audit log under tmp_path)."""
        values = {
            "flags_file": tmp_path / "flags.json",
            "audit_log": tmp_path / "flags-audit.log",
            "unleash_url": self.api_url,
            "client_token": self.client_token,
            "admin_token": self.admin_token,
            "environment": self.environment,
            "refresh_interval": 1.0,
        }
        return FlagsConfig(**(values | overrides))

    def env(self) -> dict[str, str]:
        """Environment variables for a process that should use this server (see FlagsConfig.from_env)."""
        return {
            "UNLEASH_URL": self.api_url,
            "UNLEASH_CLIENT_TOKEN": self.client_token,
            "UNLEASH_ADMIN_TOKEN": self.admin_token,
            "UNLEASH_REFRESH_INTERVAL": "1",
        }

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        stop_process_group(self.process, grace=15)


def start_unleash_server(log_path: Path) -> UnleashServer:
    install = subprocess.run(["bash", str(INSTALL)], capture_output=True, text=True, timeout=600, check=False)
    if install.returncode != 0:
        pytest.fail(f"deploy/unleash/install.sh failed:\n{install.stdout}\n{install.stderr}")
    port = free_port()
    env = os.environ | {
        "UNLEASH_PORT": str(port),
        "UNLEASH_DATABASE_URL": unleash_database_url(),
        "UNLEASH_RESET_DATABASE": "1",
        "UNLEASH_ADMIN_TOKEN": ADMIN_TOKEN,
        "UNLEASH_CLIENT_TOKEN": CLIENT_TOKEN,
    }
    log = open(log_path, "wb")  # noqa: SIM115 - the server writes to it until it stops
    process = subprocess.Popen(
        ["bash", str(RUN)], env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    log.close()
    server = UnleashServer(
        url=f"http://127.0.0.1:{port}",
        admin_token=ADMIN_TOKEN,
        client_token=CLIENT_TOKEN,
        environment="development",
        process=process,
        log_path=log_path,
    )
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the Unleash server exited with {process.returncode}:\n{server.log_tail()}")
        try:
            answer = requests.get(
                f"{server.url}/api/client/features", headers={"Authorization": CLIENT_TOKEN}, timeout=2
            )
            if answer.status_code == 200:
                return server
        except requests.RequestException:
            pass
        time.sleep(0.25)
    server.stop()
    pytest.fail(f"the Unleash server did not answer within {START_TIMEOUT:.0f} s:\n{server.log_tail()}")


@pytest.fixture(scope="session")
def unleash_server(tmp_path_factory):
    """A running Unleash 8 server (AUTH_TYPE=open-source, admin and client tokens) for the whole session."""
    server = start_unleash_server(tmp_path_factory.mktemp("unleash") / "server.log")
    yield server
    server.stop()
