"""The checkout saga's invariants, checked over every database and the sandbox's ledger (the drills use it).

For every order the Order service created (origin `service`):
- it ended in a terminal state (saga completed or compensated) within its deadline (plus `grace_seconds`
  for the compensation of a saga that ran out of time: undoing starts at the deadline at the latest);
- confirmed (paid): its stock is reserved (the owner's net movement for `order-<number>` is negative), its
  coupon redeemed when it has one, exactly one capture at the gateway and none refunded;
- failed (payment_failed / rejected): its stock released (net movement 0), no coupon use left, and no capture
  at the gateway, or a refund of all of it;
- no order was captured twice (one card charge per order).

Reads: the Order service's and the monolith's PostgreSQL databases (read-only SQL), and the sandbox's ledger
(`GET /_sandbox/gateways/<gateway>/charges`).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import timedelta
from urllib.parse import urlparse

import psycopg2
import requests


def _connect(url: str):
    parts = urlparse(url)
    return psycopg2.connect(
        host=parts.hostname,
        port=parts.port or 5432,
        user=parts.username or "postgres",
        password=parts.password or None,
        dbname=parts.path.lstrip("/"),
    )


def _rows(url: str, sql: str, params=()) -> list[tuple]:
    conn = _connect(url)
    try:
        with conn.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall()
    finally:
        conn.close()


@dataclass
class InvariantReport:
    orders: int = 0
    counts: Counter = field(default_factory=Counter)
    violations: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.violations

    def as_dict(self) -> dict:
        return {
            "orders": self.orders,
            "counts": dict(self.counts),
            "violations": self.violations[:100],
            "violation_count": len(self.violations),
        }


def ledger(sandbox_url: str, gateways=("cardinal", "northpay")) -> dict[str, list[dict]]:
    """Charges at the gateways by their reference (the order number)."""
    by_reference: dict[str, list[dict]] = defaultdict(list)
    for gateway in gateways:
        answer = requests.get(f"{sandbox_url}/_sandbox/gateways/{gateway}/charges", timeout=30)
        answer.raise_for_status()
        for charge in answer.json()["charges"]:
            by_reference[(charge.get("metadata") or {}).get("reference", "")].append(charge)
    return by_reference


def check_saga_invariants(
    *, order_database_url: str, monolith_database_url: str, sandbox_url: str, grace_seconds: float = 30.0
) -> InvariantReport:
    report = InvariantReport()
    grace = timedelta(seconds=grace_seconds)
    orders = _rows(
        order_database_url,
        "SELECT o.number, o.status, o.coupon_id, s.state, s.deadline, s.finished_at, o.failure_code, "
        "EXISTS (SELECT 1 FROM order_service_couponredemption r WHERE r.order_id = o.id) "
        "FROM order_service_order o LEFT JOIN order_service_saga s ON s.order_id = o.id "
        "WHERE o.origin = 'service' ORDER BY o.id",
    )
    net = dict(
        _rows(
            monolith_database_url,
            "SELECT reference, SUM(delta) FROM catalog_stockmovement WHERE reference LIKE 'order-%%' "
            "AND reason IN ('reservation', 'release') GROUP BY reference",
        )
    )
    charges = ledger(sandbox_url)
    report.orders = len(orders)
    for number, status, coupon_id, state, deadline, finished_at, failure, redeemed in orders:
        report.counts[status] += 1
        if failure:
            report.counts[f"failure:{failure}"] += 1
        report.counts[f"saga_{state}"] += 1
        stock = net.get(f"order-{number}", 0)
        captured = [c for c in charges.get(number, []) if c.get("amount_captured", 0) > 0]
        refunded_all = all(c.get("amount_refunded", 0) >= c.get("amount_captured", 0) for c in captured)
        if state not in ("completed", "compensated"):
            report.violations.append(f"{number}: saga not finished ({state})")
            continue
        if finished_at is None or finished_at > deadline + grace:
            report.violations.append(f"{number}: finished after its deadline ({finished_at} > {deadline})")
        if len(captured) > 1:
            report.violations.append(f"{number}: captured {len(captured)} times")
        if status == "paid":
            if stock >= 0:
                report.violations.append(f"{number}: paid but its stock is not reserved (net {stock})")
            if coupon_id is not None and not redeemed:
                report.violations.append(f"{number}: paid but its coupon is not redeemed")
            if len(captured) != 1 or not all(c.get("amount_refunded", 0) == 0 for c in captured):
                report.violations.append(f"{number}: paid but {len(captured)} capture(s) at the gateway")
        elif status in ("payment_failed", "rejected"):
            if stock != 0:
                report.violations.append(f"{number}: failed but its stock is still held (net {stock})")
            if redeemed:
                report.violations.append(f"{number}: failed but its coupon use was not given back")
            if captured and not refunded_all:
                report.violations.append(f"{number}: failed but captured and not refunded")
        else:
            report.violations.append(f"{number}: unexpected final status {status}")
    return report
