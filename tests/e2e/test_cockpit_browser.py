"""The migration status page in a real headless browser (Debian's Chromium, driven over the DevTools
protocol), against real processes: the monolith (gunicorn) serving the page, the gateway (mitmdump) with its
Prometheus port, the Product service, client traffic through the gateway. A staff user logs in with the
monolith's login, opens the page and finds each area showing what the test set up; then `flags rollout`
raises route.catalog.read to 100% and the page, without a reload, shows the new percentage and the
Product service in the split the gateway observed. The screenshot is kept and must not be blank."""

from __future__ import annotations

import base64
import contextlib
import json
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest
import requests
import websocket

from legacy_monolith.demo.processes import free_port, monolith_process
from legacy_monolith.demo.strangler import DEMO_STAFF
from legacy_monolith.demo.strangler_stack import DEFAULT_ROUTES, DemoStack
from tests.shadow.png import read_png

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAG = "route.catalog.read"

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not shutil.which(CHROMIUM), reason="chromium is not installed (make browser-install installs it)"
    ),
]


class Browser:
    """One headless Chromium page, driven over the DevTools protocol (websocket-client)."""

    def __init__(self, profile: Path) -> None:
        port = free_port()
        self.process = subprocess.Popen(
            [
                CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                f"--remote-debugging-port={port}", "--remote-allow-origins=*", f"--user-data-dir={profile}",
                "--window-size=1280,1600", "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while True:
            try:
                pages = requests.get(f"http://127.0.0.1:{port}/json/list", timeout=2).json()
                page = next(p for p in pages if p["type"] == "page")
                break
            except (requests.RequestException, StopIteration, ValueError):
                if time.monotonic() > deadline:
                    self.close()
                    raise
                time.sleep(0.3)
        self.socket = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=60)
        self.next_id = 0

    def call(self, method: str, **params):
        self.next_id += 1
        self.socket.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv())
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise AssertionError(f"{method}: {message['error']}")
                return message["result"]

    def navigate(self, url: str) -> None:
        self.call("Page.navigate", url=url)
        self.wait_for("document.readyState === 'complete' && location.href !== 'about:blank'", what=url)

    def evaluate(self, expression: str):
        result = self.call("Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True)
        if "exceptionDetails" in result:
            raise AssertionError(f"{expression[:80]}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression: str, *, timeout: float = 60, what: str = ""):
        deadline = time.monotonic() + timeout
        while True:
            value = self.evaluate(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"the page never showed {what or expression}")
            time.sleep(0.3)

    def screenshot(self) -> bytes:
        return base64.b64decode(self.call("Page.captureScreenshot", format="png")["data"])

    def close(self) -> None:
        if getattr(self, "socket", None):
            self.socket.close()
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


# What the products stage's section shows, read from the DOM (the page marks its parts with data-*).
READ_STAGE = """(() => {
  const s = document.querySelector('section[data-stage="products"]');
  if (!s) return null;
  const row = s.querySelector('tr[data-route="catalog.read"]');
  return {
    state: s.querySelector('[data-state]').dataset.state,
    percentage: row.querySelector('.percentage').textContent,
    split: row.querySelector('td.split').textContent,
    points: Number(row.querySelector('svg').getAttribute('data-points')),
    areas: Object.fromEntries(
      [...s.querySelectorAll('[data-area]')].map(a => [a.dataset.area, a.textContent])),
    refreshes: Number(document.body.dataset.refreshes || 0),
    marker: window.__notReloaded || null,
  };
})()"""


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    stack = DemoStack.prepare(tmp_path_factory.mktemp("cockpit-browser"))
    stack.env["ROUTES_FILE"] = str(DEFAULT_ROUTES)  # the shipped route table and its evidence gates
    metrics_port = free_port()
    stack.env["GATEWAY_METRICS_PORT"] = str(metrics_port)
    stack.env["GATEWAY_METRICS_URLS"] = f"http://127.0.0.1:{metrics_port}/metrics"
    try:
        for database in ("default", "control"):
            stack.manage("migrate", "--noinput", "--database", database)
        stack.manage("seed_techstore", "--no-progress", "--users", "3", "--products", "30", "--orders", "0")
        port = int(stack.urls["monolith"].rsplit(":", 1)[1])
        stack.start(monolith_process(port=port, env=stack.env, workers=1, log_path=stack.var_dir / "m.log"))
        stack.start(stack.gateway_process())
        stack.start_service("product")
        stack.manage("sync", "products", "backfill", "--no-progress")
        stack.manage("sync", "products", "verify")
        yield stack
    finally:
        stack.stop()


@pytest.fixture
def traffic(stack):
    """Anonymous catalog reads through the gateway, about 20 per second, until the test ends."""
    stop = threading.Event()

    def loop() -> None:
        session = requests.Session()
        while not stop.is_set():
            with contextlib.suppress(requests.RequestException):
                session.get(f"{stack.urls['gateway']}/api/v1/catalog/products?page_size=1", timeout=10)
            stop.wait(0.05)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    yield
    stop.set()
    thread.join(timeout=15)


def test_a_staff_user_watches_the_split_change_live_when_the_flag_is_raised(stack, traffic, tmp_path):
    browser = Browser(tmp_path / "profile")
    try:
        monolith = stack.urls["monolith"]
        browser.navigate(f"{monolith}/api/v1/catalog/categories")
        credentials = json.dumps({"username": DEMO_STAFF[0], "password": DEMO_STAFF[1]})
        status = browser.evaluate(
            "fetch('/api/v1/accounts/login', {method: 'POST', credentials: 'same-origin', "
            f"headers: {{'Content-Type': 'application/json'}}, body: JSON.stringify({credentials})}})"
            ".then(r => r.status)"
        )
        assert status == 200
        browser.navigate(f"{monolith}/ops/migration/")
        browser.evaluate("window.__notReloaded = 'yes'")

        before = browser.wait_for(
            f"(() => {{ const s = {READ_STAGE}; return s?.split.startsWith('legacy 100%') ? s : null; }})()",
            what="the gateway's legacy traffic",
        )
        assert before["state"] == "not started"
        assert before["percentage"] == "0"
        assert before["areas"]["gateway"].startswith("gateway: legacy: errors 0.00%")
        assert "last clean verify of products: 20" in before["areas"]["verify"]  # the verify just run
        assert "in sync" in before["areas"]["sync"]
        assert "products (" in before["areas"]["runbooks"]
        assert before["areas"]["rollouts"] == "rollouts: no rollout"

        stack.manage("flags", "rollout", FLAG, "100")

        after = browser.wait_for(
            f"(() => {{ const s = {READ_STAGE}; return s?.split.includes('product') ? s : null; }})()",
            timeout=90,
            what="the Product service in the split",
        )
        assert after["marker"] == "yes"  # the same page: it refreshed itself, nobody reloaded it
        assert after["refreshes"] > before["refreshes"]
        assert after["percentage"] == "100"
        assert after["state"] == "done"
        png = browser.screenshot()
    finally:
        browser.close()
    shot = tmp_path / "cockpit.png"
    shot.write_bytes(png)
    image = read_png(png)
    colours = {pixel for pixel in image.pixels(step=8)}
    assert image.width >= 1000
    assert len(colours) > 20, f"the screenshot {shot} looks blank ({len(colours)} colours)"
