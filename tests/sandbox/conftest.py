"""The sandbox app in-process (Flask test client) plus a real HTTP receiver for its webhooks."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from sandbox.app import base_knobs_from_env, create_app

API_KEY = "test-api-key"
SECRET = "test-webhook-secret"


class Gateways:
    """Calls both gateways of one sandbox app with the right auth header for each."""

    def __init__(self, app):
        self.app = app
        self.http = app.test_client()

    def cardinal(
        self, method: str, path: str, json_body=None, key: str | None = None, api_key: str = API_KEY
    ):
        headers = {"Authorization": f"Bearer {api_key}"}
        if key:
            headers["Idempotency-Key"] = key
        return self.http.open(f"/cardinal{path}", method=method, json=json_body, headers=headers)

    def northpay(
        self, method: str, path: str, json_body=None, key: str | None = None, api_key: str = API_KEY
    ):
        headers = {"X-API-Key": api_key}
        if key:
            headers["Idempotency-Key"] = key
        return self.http.open(f"/northpay{path}", method=method, json=json_body, headers=headers)

    def knobs(self, gateway: str, **changes):
        response = self.http.put(f"/_sandbox/gateways/{gateway}", json=changes)
        assert response.status_code == 200, response.get_json()
        return response.get_json()

    # Shortcuts through a whole flow ------------------------------------------------------------------
    def cardinal_token(self, number: str = "4242424242424242") -> str:
        card = {"number": number, "exp_month": 12, "exp_year": 2030, "cvc": "123"}
        return self.cardinal("POST", "/v1/tokens", {"card": card}).get_json()["id"]

    def cardinal_charge(self, amount: int = 1999, number: str = "4242424242424242", key: str | None = None):
        body = {"amount": amount, "currency": "EUR", "token": self.cardinal_token(number)}
        return self.cardinal("POST", "/v1/charges", body, key=key)

    def northpay_token(self, number: str = "4242424242424242") -> str:
        body = {"cardNumber": number, "expiryMonth": "12", "expiryYear": "2030", "cvc": "123"}
        return self.northpay("POST", "/api/v2/tokens", body).get_json()["paymentToken"]

    def northpay_payment(
        self, value: str = "19.99", number: str = "4242424242424242", key: str | None = None
    ):
        body = {"value": value, "currencyCode": "EUR", "paymentToken": self.northpay_token(number)}
        return self.northpay("POST", "/api/v2/payments", body, key=key)


@pytest.fixture
def gateways(monkeypatch) -> Gateways:
    monkeypatch.delenv("SANDBOX_WEBHOOK_URL", raising=False)
    return Gateways(create_app(base_knobs_from_env(api_key=API_KEY, webhook_secret=SECRET, webhook_url="")))


class Receiver:
    """A real HTTP server that records webhook deliveries and answers with scripted statuses."""

    def __init__(self):
        self.requests: list[dict] = []
        self.statuses: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                answer = json.dumps({"ok": status == 200}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()
