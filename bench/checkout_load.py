"""Checkout load for the saga bench and the saga drill: customers with legacy tokens fill their carts, then
check out concurrently, each request keyed by a fresh Idempotency-Key. The same code drives the monolith's
synchronous checkout and the Order service's (v1: waits for the saga; v2: 202, then the order is polled)."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import requests
from tenacity import retry, retry_if_exception_type, stop_after_attempt, wait_random_exponential

_local = threading.local()


def _session(token: str) -> requests.Session:
    sessions = getattr(_local, "sessions", None)
    if sessions is None:
        sessions = _local.sessions = {}
    if token not in sessions:
        session = requests.Session()
        session.headers["Authorization"] = f"Token {token}"
        sessions[token] = session
    return sessions[token]


@dataclass
class CheckoutOutcome:
    status: int
    seconds: float
    number: str = ""
    code: str = ""
    body: dict = field(default_factory=dict)


class CartUnavailable(RuntimeError):
    """The cart answered 503 (its catalog read timed out: `catalog_unavailable`, "retry in a moment")."""


@retry(
    retry=retry_if_exception_type((CartUnavailable, requests.ConnectionError, requests.Timeout)),
    wait=wait_random_exponential(multiplier=0.2, max=5),
    stop=stop_after_attempt(8),
    reraise=True,
)
def fill_cart(base_url: str, token: str, product_id: int, quantity: int = 1) -> None:
    """Empty the cart, then add one product. A 503 is retried with backoff, as its error body asks (a busy
    machine makes the cart's catalog read time out now and then); any other refusal is raised at once."""
    session = _session(token)
    session.delete(f"{base_url}/api/v1/orders/cart", timeout=30)
    answer = session.post(
        f"{base_url}/api/v1/orders/cart/items",
        json={"product_id": product_id, "quantity": quantity},
        timeout=30,
    )
    if answer.status_code == 503:
        raise CartUnavailable(f"cart add answered 503: {answer.text[:200]}")
    if answer.status_code != 201:
        raise RuntimeError(f"cart add answered {answer.status_code}: {answer.text[:200]}")


def checkout(
    base_url: str, token: str, body: dict, *, path: str = "/api/v1/orders/checkout"
) -> CheckoutOutcome:
    started = time.perf_counter()
    try:
        answer = _session(token).post(
            f"{base_url}{path}", json=body, headers={"Idempotency-Key": str(uuid.uuid4())}, timeout=120
        )
    except requests.RequestException as exc:
        return CheckoutOutcome(0, time.perf_counter() - started, code=type(exc).__name__)
    elapsed = time.perf_counter() - started
    try:
        payload = answer.json()
    except ValueError:
        payload = {}
    number = payload.get("number") or (payload.get("extra") or {}).get("order_number") or ""
    return CheckoutOutcome(answer.status_code, elapsed, number, payload.get("code", ""), payload)


def run_round(
    base_url: str,
    customers: Sequence[tuple[int, str]],
    *,
    product_for: Callable[[int], int],
    body_for: Callable[[int], dict],
    concurrency: int,
    path: str = "/api/v1/orders/checkout",
) -> tuple[list[CheckoutOutcome], float]:
    """Fill every customer's cart (not timed), then every customer checks out once, `concurrency` at a time.
    Returns the outcomes and the wall-clock seconds of the checkout phase."""
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        list(pool.map(lambda i: fill_cart(base_url, customers[i][1], product_for(i)), range(len(customers))))
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        outcomes = list(
            pool.map(
                lambda i: checkout(base_url, customers[i][1], body_for(i), path=path), range(len(customers))
            )
        )
    return outcomes, time.perf_counter() - started
