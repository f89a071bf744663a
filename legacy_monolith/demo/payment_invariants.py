"""The payments cutover's invariants (the drill of tests/e2e/test_payments_cutover_drill.py), over the Order
service's, the monolith's and the Payment service's databases and the sandbox's ledger. On top of the
saga's own (saga_invariants.py: every order finished, paid with exactly one capture, failed with none):

- no order paid on both sides: an order has payment rows at the monolith or at the Payment service, never
  both, and on the side its saga chose (`payment_adapter`, decided once when the order was created);
- no order charged twice: at most one capture per order in the ledger (both backends charge the same
  sandbox under the order's number);
- no capture without a confirmed order: every captured charge in the ledger belongs to a paid order of this
  run, or was refunded in full;
- every payment reconciled: no Payment service payment left pending, authorized or failed-but-unsure, and no
  monolith payment of the run's orders left pending.

Reads only (SQL and `GET /_sandbox/gateways/<gateway>/charges`); the counts are what the drill prints.
"""

from __future__ import annotations

from collections import Counter

from .saga_invariants import InvariantReport, _rows, check_saga_invariants, ledger

SERVICE_OPEN = (
    "SELECT id, order_number, status FROM payment_service_payment "
    "WHERE status IN ('pending', 'authorized') OR (status = 'failed' AND outcome_unknown)"
)


def check_payment_cutover_invariants(
    *,
    order_database_url: str,
    monolith_database_url: str,
    payment_database_url: str,
    sandbox_url: str,
    grace_seconds: float = 30.0,
) -> InvariantReport:
    report = check_saga_invariants(
        order_database_url=order_database_url,
        monolith_database_url=monolith_database_url,
        sandbox_url=sandbox_url,
        grace_seconds=grace_seconds,
    )
    orders = dict(
        _rows(
            order_database_url,
            "SELECT number, payment_adapter FROM order_service_order WHERE origin = 'service'",
        )
    )
    status_of = dict(
        _rows(order_database_url, "SELECT number, status FROM order_service_order WHERE origin = 'service'")
    )
    numbers = list(orders)
    monolith = Counter(
        dict(
            _rows(
                monolith_database_url,
                "SELECT o.number, count(*) FROM payments_payment p JOIN orders_order o ON o.id = p.order_id "
                "WHERE o.number = ANY(%s) GROUP BY o.number",
                [numbers],
            )
        )
    )
    service = Counter(
        dict(
            _rows(
                payment_database_url,
                "SELECT order_number, count(*) FROM payment_service_payment WHERE order_number = ANY(%s) "
                "GROUP BY order_number",
                [numbers],
            )
        )
    )
    for number, adapter in orders.items():
        report.counts[f"adapter:{adapter or 'none'}"] += 1
        report.counts[f"{adapter or 'none'}:{status_of[number]}"] += 1
        if monolith[number] and service[number]:
            report.violations.append(
                f"{number}: payments on both sides ({monolith[number]} + {service[number]})"
            )
        wrong_side = service[number] if adapter == "monolith" else monolith[number]
        if wrong_side:
            report.violations.append(f"{number}: paid through {adapter} but has payments on the other side")
    for reference, charges in ledger(sandbox_url).items():
        for charge in charges:
            if charge.get("amount_captured", 0) <= 0:
                continue
            report.counts["ledger_captures"] += 1
            refunded = charge.get("amount_refunded", 0) >= charge.get("amount_captured", 0)
            if status_of.get(reference) != "paid" and not refunded:
                report.violations.append(
                    f"{reference or '(no reference)'}: captured without a confirmed order"
                )
    for status, count in _rows(
        payment_database_url, "SELECT status, count(*) FROM payment_service_payment GROUP BY status"
    ):
        report.counts[f"service_payments:{status}"] += count
    for payment_id, number, status in _rows(
        payment_database_url,
        SERVICE_OPEN,
    ):
        report.violations.append(f"{number}: Payment service payment {payment_id} not reconciled ({status})")
    for payment_id, number in _rows(
        monolith_database_url,
        "SELECT p.id, o.number FROM payments_payment p JOIN orders_order o ON o.id = p.order_id "
        "WHERE o.number = ANY(%s) AND p.status = 'pending'",
        [numbers],
    ):
        report.violations.append(f"{number}: monolith payment {payment_id} not reconciled (pending)")
    return report
