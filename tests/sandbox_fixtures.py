"""The `sandbox` fixture: the simulated card gateways as a real process, with the monolith pointed at it.

    def test_something(sandbox):     # state and knobs reset; settings.PAYMENT_GATEWAYS -> this sandbox
        sandbox.set_knobs("cardinal", error_rate=1.0)          # fault injection, next request on
        sandbox.point_webhooks_at(monolith_url)                 # both gateways post to .../webhooks/<gw>
        sandbox.wait_for_delivery("cardinal", "charge.captured")

One process per test session (`sandbox_server`, started on first use, on a free port); each test gets fresh
state through POST /_sandbox/reset with a fixed seed. The sandbox and the monolith share the test settings'
PAYMENT_API_KEY and PAYMENT_WEBHOOK_SECRET. To receive webhooks in-process use pytest-django's live_server
(see the `monolith_url` fixture in tests/legacy_monolith/payments/conftest.py: it needs STATIC_URL set).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from legacy_monolith.demo.processes import stop_process_group

REPO_ROOT = Path(__file__).resolve().parent.parent
GATEWAYS = ("cardinal", "northpay")
SANDBOX_SEED = 20240601


@dataclass
class SandboxServer:
    base_url: str
    process: subprocess.Popen
    log_path: Path


def _start_sandbox(api_key: str, webhook_secret: str) -> SandboxServer:
    log = tempfile.NamedTemporaryFile(prefix="sandbox-", suffix=".log", delete=False)  # noqa: SIM115
    process = subprocess.Popen(
        [sys.executable, "-m", "sandbox", "--host", "127.0.0.1", "--port", "0", "--quiet"],
        cwd=REPO_ROOT,
        env={**os.environ, "SANDBOX_API_KEY": api_key, "SANDBOX_WEBHOOK_SECRET": webhook_secret},
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
        start_new_session=True,
    )
    line = process.stdout.readline().strip()  # "sandbox listening on http://127.0.0.1:<port>"
    if not line.startswith("sandbox listening on "):
        process.kill()
        raise RuntimeError(f"the sandbox did not start: {line!r}; see {log.name}")
    server = SandboxServer(line.removeprefix("sandbox listening on "), process, Path(log.name))
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{server.base_url}/_sandbox/healthz", timeout=1).ok:
                return server
        except requests.RequestException:
            time.sleep(0.05)
    _stop(server)
    raise RuntimeError(f"the sandbox never answered /_sandbox/healthz; see {log.name}")


def _stop(server: SandboxServer) -> None:
    stop_process_group(server.process, grace=5)
    if server.process.stdout:
        server.process.stdout.close()
    if server.process.returncode in (0, -signal.SIGTERM):
        server.log_path.unlink(missing_ok=True)  # kept only when the sandbox died on its own


@pytest.fixture(scope="session")
def sandbox_server():
    """The sandbox process for the whole session (started on first use, stopped at the end)."""
    from django.conf import settings

    server = _start_sandbox(settings.PAYMENT_API_KEY, settings.PAYMENT_WEBHOOK_SECRET)
    try:
        yield server
    finally:
        _stop(server)


class Sandbox:
    """A handle on the running sandbox for one test."""

    def __init__(self, base_url: str, webhook_secret: str):
        self.base_url = base_url
        self.webhook_secret = webhook_secret
        self.http = requests.Session()

    def url(self, gateway: str) -> str:
        """The gateway's base URL, as settings.PAYMENT_GATEWAYS holds it."""
        return f"{self.base_url}/{gateway}"

    def reset(self, seed: int | None = SANDBOX_SEED) -> None:
        self._ok(self.http.post(f"{self.base_url}/_sandbox/reset", json={"seed": seed}, timeout=5))

    def set_knobs(self, gateway: str, **knobs: Any) -> dict:
        """Change knobs of one gateway (latency_ms, error_rate, timeout_rate, timeout_seconds, decline_rate,
        operations, webhook_url, webhook_secret, webhook_max_attempts, webhook_retry_delay_ms,
        webhook_delay_ms, refund_settle_ms, api_key, seed); returns all its knobs."""
        return self._ok(self.http.put(f"{self.base_url}/_sandbox/gateways/{gateway}", json=knobs, timeout=5))

    def knobs(self, gateway: str) -> dict:
        return self._ok(self.http.get(f"{self.base_url}/_sandbox/gateways/{gateway}", timeout=5))

    def point_webhooks_at(self, monolith_url: str, **knobs: Any) -> None:
        """Both gateways deliver to <monolith_url>/api/v1/payments/webhooks/<gateway>."""
        for gateway in GATEWAYS:
            self.set_knobs(
                gateway,
                webhook_url=f"{monolith_url.rstrip('/')}/api/v1/payments/webhooks/{gateway}",
                **knobs,
            )

    def events(self, gateway: str) -> list[dict]:
        return self._webhooks(gateway)["events"]

    def deliveries(self, gateway: str) -> list[dict]:
        return self._webhooks(gateway)["deliveries"]

    def wait_for_event(self, gateway: str, event_type: str, timeout: float = 5.0) -> dict:
        """The first event of that type the gateway emitted (whether or not it was delivered)."""
        return self._wait(lambda: [e for e in self.events(gateway) if e["type"] == event_type], timeout)

    def wait_for_delivery(
        self,
        gateway: str,
        event_type: str,
        status: int = 200,
        timeout: float = 10.0,
        attempt: int | None = None,
    ) -> dict:
        """The first delivery of that event type the receiver answered with `status` (and, if given, that
        was delivery attempt number `attempt`)."""
        return self._wait(
            lambda: [
                d
                for d in self.deliveries(gateway)
                if d["type"] == event_type
                and d["response_status"] == status
                and (attempt is None or d["attempt"] == attempt)
            ],
            timeout,
        )

    def replay_event(self, gateway: str, event_id: str) -> dict:
        """Deliver an event again, synchronously; returns the delivery record (response_status, ...)."""
        return self._ok(
            self.http.post(
                f"{self.base_url}/_sandbox/gateways/{gateway}/webhooks/replay/{event_id}", timeout=15
            )
        )

    def charges(self, gateway: str) -> list[dict]:
        return self._ok(self.http.get(f"{self.base_url}/_sandbox/gateways/{gateway}/charges", timeout=5))[
            "charges"
        ]

    def _webhooks(self, gateway: str) -> dict:
        return self._ok(self.http.get(f"{self.base_url}/_sandbox/gateways/{gateway}/webhooks", timeout=5))

    @staticmethod
    def _wait(found, timeout: float):
        deadline = time.monotonic() + timeout
        while True:
            hits = found()
            if hits:
                return hits[0]
            if time.monotonic() > deadline:
                raise AssertionError(f"nothing showed up within {timeout} s")
            time.sleep(0.05)

    @staticmethod
    def _ok(response: requests.Response) -> dict:
        assert response.ok, f"sandbox control call failed: {response.status_code} {response.text}"
        return response.json()


@pytest.fixture
def sandbox(sandbox_server, settings) -> Sandbox:
    """A clean sandbox (state and knobs reset, seeded RNG) with settings.PAYMENT_GATEWAYS pointing at it."""
    handle = Sandbox(sandbox_server.base_url, settings.PAYMENT_WEBHOOK_SECRET)
    handle.reset()
    for gateway in GATEWAYS:
        handle.set_knobs(
            gateway, api_key=settings.PAYMENT_API_KEY, webhook_secret=settings.PAYMENT_WEBHOOK_SECRET
        )
    settings.PAYMENT_GATEWAYS = {gateway: handle.url(gateway) for gateway in GATEWAYS}
    yield handle
    handle.http.close()
