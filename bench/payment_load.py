"""The payments bench's clients: one card charge, the same work on both sides (tokenize the card, antifraud,
authorize, capture: three provider calls), `concurrency` callers at a time, each waiting for its outcome
before the next charge (the saga's way: it waits for the authorization).

- The monolith charges synchronously: its internal payment endpoints (what the Order service's `monolith`
  adapter calls while route.payments.charge is off), tokenize -> authorize -> capture, one request each.
  The outcome is the capture's answer; the latency is the three requests'.
- The Payment service charges asynchronously: `POST /internal/v1/payments` (the card tokenized in the
  request) answers 202, its worker runs antifraud, authorize and capture. The outcome is the payment's
  final status. An `OutcomeWatcher` (one harness thread reading the service's database every few ms) tells
  each caller when its payment is final; the latencies come from the payment's own audit trail
  (`payment.authorized` / `payment.captured` entries, written in the transaction of the change), against
  the wall clock the caller read before its request, on the same machine.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

import psycopg2
import requests

from legacy_monolith.demo.order_stack import APPROVED, SHIPPING

AMOUNT = Decimal("49.90")
CARD = {"number": APPROVED, "exp_month": 12, "exp_year": 2030, "cvc": "123", "holder": "Ada Lovelace"}
FINAL = ("captured", "declined", "rejected_fraud", "failed", "voided", "refunded", "partially_refunded")
_local = threading.local()


@dataclass
class Charge:
    """One charge: its outcome and, in seconds from the caller's first request, when it was authorized and
    when it was done (captured, or refused). `accept_s`: the first answer (the service's 202)."""

    ok: bool
    status: str
    started_at: float  # time.time() before the first request
    accept_s: float
    authorized_s: float | None = None
    done_s: float | None = None
    payment_id: int | None = None
    error: str = ""


def _session(token: str) -> requests.Session:
    session = getattr(_local, "session", None)
    if session is None:
        session = _local.session = requests.Session()
        session.headers["Authorization"] = f"Bearer {token}"
    return session


def order_document(number: str, user_id: int, product_id: int) -> dict:
    """The Order service's order document (contracts/orders.py) the monolith's authorize keeps a copy of."""
    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    amount = f"{AMOUNT:.2f}"
    return {
        "number": number, "order_id": number, "origin": "service", "version": 1, "user_id": user_id,
        "status": "pending_payment", "currency": "EUR", "subtotal": amount, "discount_total": "0.00",
        "shipping_total": "0.00", "total": amount, "coupon_code": None,
        "shipping": {**SHIPPING, "carrier": ""},
        "lines": [{"product_id": product_id, "sku": "", "name": "bench item", "unit_price": amount,
                   "quantity": 1, "line_total": amount}],
        "payment": None, "failure": None, "created_at": now, "paid_at": None, "cancelled_at": None,
    }  # fmt: skip


def monolith_charge(base_url: str, token: str, *, number: str, user_id: int, product_id: int) -> Charge:
    """tokenize -> authorize -> capture at the monolith, synchronously."""
    session, key = _session(token), uuid.uuid4().hex
    started_at, started = time.time(), time.perf_counter()

    def post(action: str, body: dict) -> dict:
        answer = session.post(f"{base_url}/internal/v1/payments/{action}", json=body, timeout=60)
        if answer.status_code != 200:
            raise RuntimeError(f"{action} answered {answer.status_code}: {answer.text[:200]}")
        return answer.json()

    try:
        card = post("tokenize", {"gateway": "cardinal", "user_id": user_id, "card": CARD})
        accept = time.perf_counter() - started
        authorized = post(
            "authorize",
            {
                "idempotency_key": f"pb-{key}",
                "order": order_document(number, user_id, product_id),
                "amount": f"{AMOUNT:.2f}",
                "currency": "EUR",
                "card": card,
                "client_ip": "127.0.0.1",
            },
        )
        authorized_s = time.perf_counter() - started
        if authorized.get("outcome") != "authorized":
            return Charge(
                False, authorized.get("status", ""), started_at, accept, error=str(authorized)[:200]
            )
        captured = post(
            "capture",
            {"idempotency_key": f"pb-{key}:capture", "payment_id": authorized["payment_id"]},
        )
    except (requests.RequestException, RuntimeError, ValueError) as exc:
        return Charge(False, "error", started_at, time.perf_counter() - started, error=str(exc)[:200])
    done = time.perf_counter() - started
    ok = captured.get("outcome") == "captured"
    error = "" if ok else str(captured)[:200]
    return Charge(ok, captured.get("status", ""), started_at, accept, authorized_s, done, error=error)


class OutcomeWatcher:
    """Tells callers when their payment reached a final status: one thread reads the service's database
    every `interval` seconds for the payments being waited on (one indexed query)."""

    def __init__(self, database_url: str, *, interval: float = 0.005) -> None:
        self.database_url, self.interval = database_url, interval
        self._waiting: dict[int, tuple[threading.Event, list[str]]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="outcome-watcher", daemon=True)

    def __enter__(self) -> OutcomeWatcher:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def wait(self, payment_id: int, timeout: float) -> str:
        event, status = threading.Event(), []
        with self._lock:
            self._waiting[payment_id] = (event, status)
        if not event.wait(timeout):
            with self._lock:
                self._waiting.pop(payment_id, None)
            return "timed_out"
        return status[0]

    def _run(self) -> None:
        conn = psycopg2.connect(self.database_url)
        conn.autocommit = True
        try:
            with conn.cursor() as cursor:
                while not self._stop.is_set():
                    with self._lock:
                        ids = list(self._waiting)
                    if ids:
                        cursor.execute(
                            "SELECT id, status FROM payment_service_payment "
                            "WHERE id = ANY(%s) AND status = ANY(%s)",
                            [ids, list(FINAL)],
                        )
                        done = cursor.fetchall()
                        with self._lock:
                            for payment_id, status in done:
                                event, box = self._waiting.pop(payment_id)
                                box.append(status)
                                event.set()
                    time.sleep(self.interval)
        finally:
            conn.close()


def service_charge(
    base_url: str, token: str, watcher: OutcomeWatcher, *, number: str, user_id: int, timeout: float = 120
) -> Charge:
    """POST the charge (202), then wait for its final status."""
    session, key = _session(token), f"pb-{uuid.uuid4().hex}"
    started_at, started = time.time(), time.perf_counter()
    try:
        answer = _post_retried(
            session,
            f"{base_url}/internal/v1/payments",
            key,
            {
                "order_number": number,
                "user_id": user_id,
                "amount": f"{AMOUNT:.2f}",
                "currency": "EUR",
                "gateway": "cardinal",
                "card": CARD,
                "capture": True,
                "shipping_country": SHIPPING["country"],
                "billing": {"name": SHIPPING["name"], "address": {"city": SHIPPING["city"]}},
                "client_ip": "127.0.0.1",
            },
        )
        accept = time.perf_counter() - started
        if answer.status_code != 202:
            raise RuntimeError(f"charge answered {answer.status_code}: {answer.text[:200]}")
        payment = answer.json()
    except (requests.RequestException, RuntimeError, ValueError) as exc:
        return Charge(False, "error", started_at, time.perf_counter() - started, error=str(exc)[:200])
    status = payment["status"] if payment["status"] in FINAL else watcher.wait(payment["id"], timeout)
    return Charge(status == "captured", status, started_at, accept, payment_id=payment["id"])


def _post_retried(session: requests.Session, url: str, key: str, body: dict) -> requests.Response:
    """POST once more, with the same Idempotency-Key, when a kept-alive connection was closed under the
    request (a caller idle longer than the server's keep-alive): the service answers the same payment."""
    try:
        return session.post(url, json=body, headers={"Idempotency-Key": key}, timeout=60)
    except requests.ConnectionError:
        return session.post(url, json=body, headers={"Idempotency-Key": key}, timeout=60)


def service_timings(database_url: str, charges: Sequence[Charge]) -> None:
    """Fill each service charge's authorized_s / done_s from its audit entries (seconds after its start)."""
    by_id = {c.payment_id: c for c in charges if c.payment_id is not None}
    if not by_id:
        return
    conn = psycopg2.connect(database_url)
    try:
        with conn.cursor() as cursor:
            cursor.execute(
                "SELECT payment_id, event, occurred_at FROM payment_service_auditentry "
                "WHERE payment_id = ANY(%s) AND event = ANY(%s)",
                [list(by_id), ["payment.authorized", "payment.captured"]],
            )
            for payment_id, event, occurred_at in cursor.fetchall():
                charge = by_id[payment_id]
                seconds = occurred_at.timestamp() - charge.started_at
                if event == "payment.authorized":
                    charge.authorized_s = seconds
                else:
                    charge.done_s = seconds
    finally:
        conn.close()


def run_charges(charge_one, count: int, *, concurrency: int) -> tuple[list[Charge], float]:
    """`count` charges, `concurrency` callers at a time; returns them and the wall seconds from the first
    request to the last outcome."""
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        charges = list(pool.map(charge_one, range(count)))
    return charges, time.perf_counter() - started
