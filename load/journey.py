"""The shopping journey as locust tasks, shared by every stage's locustfile.

Users are the seed's customers (`LOAD_USERS_FILE`: one username a line, written by `python -m load`; the
seed's password, `LOAD_PASSWORD`), or, for a drill whose upstreams issue no credentials, a fixed set of
ready-made ones (`LOAD_TOKENS_FILE`: one Authorization header a line; a shopper keeps its one and never logs
in, so the same customers come back in the same order and a sticky rollout splits them the same way).
A drill paces the shoppers (`LOAD_TASKS_PER_SECOND`, each) and reads every request's outcome, its upstream
included, from `LOAD_EXCHANGES_FILE` (one JSON line a request: load/traffic.py).

Weights follow a shop: most requests browse and search, fewer fill a cart,
few check out; each user logs in once and refreshes its credential now and then. A business refusal a shop
answers every day (out of stock, a card declined or refused by antifraud) is a success for the load test;
anything else that is not the expected status, or any 5xx, is a failure.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import threading
import uuid
from pathlib import Path

from locust import HttpUser, between, constant_throughput, events, task

API = "/api/v1"
API_V2 = "/api/v2"
SHIPPING = {"name": "Load Tester", "line1": "10 rue de Rivoli", "city": "Paris", "postal_code": "75001",
            "country": "FR"}  # fmt: skip
CARD = {
    "number": os.environ.get("LOAD_CARD_NUMBER", "4242424242424242"),  # a drill's declined card: 4000...0002
    "exp_month": 12,
    "exp_year": 2030,
    "cvc": "123",
    "holder": "Load Tester",
}
# v1 (default): POST /api/v1/orders/checkout, which answers when the order is paid; v2: the Order service's
# POST /api/v2/orders (stage 4 on; the saga drill counts one order per 202).
CHECKOUT_API = os.environ.get("LOAD_CHECKOUT_API", "v1")
BUSINESS_REFUSALS = {"out_of_stock", "payment_declined", "fraud_suspected", "payment_rejected_fraud",
                     "cart_empty", "coupon_expired", "product_unavailable"}  # fmt: skip
SEARCH_TERMS = ("wireless", "usb", "pro", "case", "cable", "mini", "smart", "hd")

_users_lock = threading.Lock()
_users: itertools.cycle | None = None
_tokens: itertools.cycle | None = None


def _cycle(path: Path, what: str) -> itertools.cycle:
    lines = [line.strip() for line in path.read_text().splitlines() if line.strip()]
    if not lines:
        raise RuntimeError(f"{path} lists no {what}")
    return itertools.cycle(lines)


def next_username() -> str:
    global _users
    with _users_lock:
        if _users is None:
            path = Path(os.environ.get("LOAD_USERS_FILE", "var/load/users.txt"))
            _users = _cycle(path, "users: seed the monolith first")
        return next(_users)


def next_token() -> str | None:
    """The next ready-made Authorization header of LOAD_TOKENS_FILE, or None when the shoppers log in."""
    global _tokens
    if not os.environ.get("LOAD_TOKENS_FILE"):
        return None
    with _users_lock:
        if _tokens is None:
            _tokens = _cycle(Path(os.environ["LOAD_TOKENS_FILE"]), "tokens")
        return next(_tokens)


def _wait_time():
    paced = os.environ.get("LOAD_TASKS_PER_SECOND")
    return constant_throughput(float(paced)) if paced else between(0.2, 1.0)


_exchanges = None


@events.request.add_listener
def record_exchange(request_type, name, response_time, response, exception, start_time=None, **_) -> None:
    """One JSON line per request into LOAD_EXCHANGES_FILE (when set): when it started, what it was, its
    status (0: no answer), the upstream that answered (the gateway's X-Strangler-Upstream) and any error."""
    global _exchanges
    path = os.environ.get("LOAD_EXCHANGES_FILE")
    if not path:
        return
    if _exchanges is None:
        _exchanges = open(path, "a", buffering=1, encoding="utf-8")  # noqa: SIM115 (open for the run)
    status = getattr(response, "status_code", 0) or 0
    headers = getattr(response, "headers", None) or {}
    line = {
        "t": start_time,
        "method": request_type,
        "name": name,
        "status": status,
        "upstream": headers.get("X-Strangler-Upstream", "?"),
        "ms": round(response_time or 0.0, 2),
        "error": str(exception)[:200] if exception else "",
    }
    _exchanges.write(json.dumps(line) + "\n")


class Shopper(HttpUser):
    """One seeded customer shopping through the gateway (`--host`)."""

    abstract = True
    wait_time = _wait_time()

    def on_start(self) -> None:
        self.token = next_token()
        self.username = "" if self.token else next_username()
        self.password = os.environ.get("LOAD_PASSWORD", "techstore-demo")
        self.headers: dict[str, str] = {"Authorization": self.token} if self.token else {}
        self.refresh_token: str | None = None
        self.product_ids: list[int] = []
        self.pages = 1  # how many pages of 20 the catalog has, as its last listing said (at most 5)
        self.login()

    # --- credentials ---------------------------------------------------------------------------------

    @task(1)
    def login(self) -> None:
        if self.token:  # a ready-made credential (LOAD_TOKENS_FILE): nothing to log in to
            return
        body = {"username": self.username, "password": self.password, "name": "load"}
        with self.client.post(
            f"{API}/accounts/tokens", json=body, name="login", catch_response=True
        ) as answer:
            if answer.status_code != 201:
                answer.failure(f"login of {self.username} {answer.status_code}: {answer.text[:200]}")
                return
            data = answer.json()
            if "access_token" in data:  # the login cutover: a JWT pair from the Auth service
                self.headers = {"Authorization": f"Bearer {data['access_token']}"}
                self.refresh_token = data.get("refresh_token")
            else:
                self.headers = {"Authorization": f"Token {data['token']}"}

    @task(1)
    def refresh(self) -> None:
        if not self.refresh_token:  # legacy opaque tokens do not refresh: log in again
            return self.login()
        form = {"grant_type": "refresh_token", "refresh_token": self.refresh_token, "client_id": "web"}
        with self.client.post("/o/token", data=form, name="refresh", catch_response=True) as answer:
            if answer.status_code != 200:
                answer.failure(f"refresh {answer.status_code}: {answer.text[:200]}")
                return
            data = answer.json()
            self.headers = {"Authorization": f"Bearer {data['access_token']}"}
            self.refresh_token = data.get("refresh_token", self.refresh_token)
        return None

    # --- browsing ------------------------------------------------------------------------------------

    @task(10)
    def browse(self) -> None:
        self.client.get(f"{API}/catalog/categories", name="categories", headers=self.headers)
        page = random.randint(1, self.pages)  # a page past the last is a 404: stay within the catalog
        path = f"{API}/catalog/products?page={page}&page_size=20"
        answer = self.client.get(path, name="products page", headers=self.headers)
        if answer.status_code == 200:
            document = answer.json()
            listing = document.get("results", [])  # a drill's toy upstream lists nothing
            self.pages = max(1, min(5, -(-int(document.get("count") or 0) // 20)))
            self.product_ids = [p["id"] for p in listing if p.get("stock", 0) > 0]
        if self.product_ids:
            detail = f"{API}/catalog/products/{random.choice(self.product_ids)}"
            self.client.get(detail, name="product detail", headers=self.headers)

    @task(5)
    def search(self) -> None:
        path = f"{API}/catalog/products?q={random.choice(SEARCH_TERMS)}&page_size=10"
        self.client.get(path, name="search", headers=self.headers)

    # --- buying --------------------------------------------------------------------------------------

    @task(3)
    def cart(self) -> None:
        if not self.product_ids:
            return self.browse()
        body = {"product_id": random.choice(self.product_ids), "quantity": 1}
        self._expect("POST", f"{API}/orders/cart/items", "add to cart", {201}, json=body)
        self._expect("GET", f"{API}/orders/cart", "cart", {200})
        return None

    @task(1)
    def checkout(self) -> None:
        if not self.product_ids:
            return self.browse()
        body = {"product_id": random.choice(self.product_ids), "quantity": 1}
        self._expect("POST", f"{API}/orders/cart/items", "add to cart", {201}, json=body)
        payload = {"shipping": SHIPPING, "payment": {"gateway": "cardinal", "card": CARD}}
        headers = {"Idempotency-Key": uuid.uuid4().hex}
        if CHECKOUT_API == "v2":  # the Order service's asynchronous checkout: 202 and the order, always
            self._expect("POST", f"{API_V2}/orders", "checkout v2", {202}, json=payload, extra=headers)
        else:
            self._expect(
                "POST", f"{API}/orders/checkout", "checkout", {201, 202}, json=payload, extra=headers
            )
        return None

    # --- the customer's notifications (stage 6; not @task: only the stages that name them run them) -------

    def notifications(self) -> None:
        """The customer's notifications and their states (the Notification service: v2.notifications)."""
        self._expect("GET", f"{API_V2}/notifications", "notifications", {200})
        self._expect("GET", f"{API_V2}/notifications?channel=email", "notifications by channel", {200})

    def preferences(self) -> None:
        """Read the preferences, then say no to marketing on every channel (the same answer each time)."""
        self._expect("GET", f"{API_V2}/notifications/preferences", "preferences", {200})
        body = {"locale": "", "opt_outs": [{"channel": "*", "category": "marketing"}]}
        self._expect("PUT", f"{API_V2}/notifications/preferences", "set preferences", {200}, json=body)

    def _expect(self, method: str, path: str, name: str, ok: set[int], *, json=None, extra=None) -> None:
        headers = {**self.headers, **(extra or {})}
        with self.client.request(
            method, path, name=name, json=json, headers=headers, catch_response=True
        ) as answer:
            if answer.status_code in ok:
                answer.success()
            elif 400 <= answer.status_code < 500 and _code(answer) in BUSINESS_REFUSALS:
                answer.success()  # a shop's everyday answer, not a fault
            else:
                answer.failure(f"{name}: {answer.status_code} {answer.text[:200]}")


def _code(answer) -> str | None:
    try:
        return answer.json().get("code")
    except ValueError:
        return None
