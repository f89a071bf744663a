"""`manage.py sync orders backfill|follow|status|verify [--repair]`: orders both ways while the orders
routes are split.

- backfill: the monolith's shipping rules, coupons and its own orders (origin `monolith`) into the Order
  service (`/internal/v1/import/...`; idempotent: upserts by id, order copies by version).
- follow: the other direction: the Order service's `order.*` events into the monolith's tables
  (acl_adapters.orders.translate.order_mirror_apply), as the consumer `monolith.service_orders` (retries and
  a DLQ like every consumer; idempotent by the documents' version, loops stopped by origin: only orders whose
  origin is `service` are applied here).
- status: orders per origin on both sides, and the depth of the consumer's queue.
- verify: every order on both sides compared by its contract document's key fields, both directions;
  `--repair` re-sends the monolith's orders to the service and re-applies the service's to the monolith.
Exit codes: 0 done / no differences, 1 differences left, 2 error.
"""

from __future__ import annotations

import argparse
import json
import signal
from typing import Any

from django.conf import settings
from django.db.models import Count

from acl_adapters.orders.translate import order_document, order_mirror_apply
from chassis.consumers import ConsumerWorker, EventConsumer
from contracts import cli
from contracts.events import Envelope
from contracts.orders import ORDER_EVENTS
from legacy_monolith.orders.models import Coupon, Order, ShippingRule
from migrations_data.engine.checkpoint import verify_record
from migrations_data.engine.http import InternalApiClient

BATCH = 500
QUEUE = "monolith.service_orders"


def order_client() -> InternalApiClient:
    return InternalApiClient(settings.ORDER_SERVICE_URL, settings.INTERNAL_API_TOKEN)


# --- follow: service orders into the monolith ---------------------------------------------------------


def on_service_order(envelope: Envelope) -> None:
    if envelope.data.get("origin") != "service":
        return  # the monolith's own orders, echoed back: never applied over the owner's rows
    order_mirror_apply(envelope.data)


class ServiceOrdersConsumer(EventConsumer):
    name = QUEUE
    bindings = ORDER_EVENTS
    handlers = dict.fromkeys(ORDER_EVENTS, on_service_order)


def orders_follow(options: dict[str, Any], command) -> int:
    from migrations_data.outbox.relay import broker_connection_args

    url, transport = broker_connection_args()
    from kombu import Connection

    from kernel.mtls import amqp_ssl

    with Connection(url, transport_options=transport, ssl=amqp_ssl(url)) as connection:
        worker = ConsumerWorker(
            ServiceOrdersConsumer(), connection, max_attempts=5, retry_base_ms=1000, record_processed=False
        )
        signal.signal(signal.SIGTERM, lambda *_: worker.stop())
        signal.signal(signal.SIGINT, lambda *_: worker.stop())
        stats = worker.run(
            once=options["once"],
            idle_timeout=options["interval"],
            timeout=options["timeout"] if options["once"] else None,
        )
    result = {"processed": stats.processed, "retried": stats.retried, "dead_lettered": stats.dead_lettered}
    command.stdout.write(json.dumps(result) if options["json"] else f"sync orders follow: {result}")
    return 0


# --- backfill: the monolith's data into the service --------------------------------------------------


RULE_FIELDS = (
    "id", "name", "country", "postal_prefix", "min_weight_grams", "max_weight_grams", "carrier",
    "delivery_days", "priority", "is_active",
)  # fmt: skip


def _rules() -> list[dict]:
    return [
        {**{name: getattr(rule, name) for name in RULE_FIELDS}, "price": str(rule.price)}
        for rule in ShippingRule.objects.order_by("id")
    ]


def _coupons() -> list[dict]:
    out = []
    for c in Coupon.objects.order_by("id"):
        out.append(
            {
                "id": c.pk,
                "code": c.code,
                "kind": c.kind,
                "value": str(c.value),
                "min_order_total": str(c.min_order_total),
                "valid_from": c.valid_from.isoformat() if c.valid_from else None,
                "expires_at": c.expires_at.isoformat() if c.expires_at else None,
                "usage_limit": c.usage_limit,
                "times_used": c.times_used,
                "is_active": c.is_active,
                "created_at": c.created_at.isoformat(),
            }
        )
    return out


def _monolith_orders(after_id: int = 0):
    orders = Order.objects.filter(origin="monolith", id__gt=after_id).order_by("id").select_related("coupon")
    while True:
        batch = list(orders.filter(id__gt=after_id).prefetch_related("items", "payments")[:BATCH])
        if not batch:
            return
        yield [order_document(order) for order in batch]
        after_id = batch[-1].id


def orders_backfill(options: dict[str, Any], command) -> int:
    client = order_client()
    totals = {"rules": 0, "coupons": 0, "orders": {}}
    rules, coupons = _rules(), _coupons()
    for start in range(0, len(rules), BATCH):
        batch = {"rules": rules[start : start + BATCH]}
        totals["rules"] += client.post("/internal/v1/import/shipping_rules", batch)["applied"]
    for start in range(0, len(coupons), BATCH):
        batch = {"coupons": coupons[start : start + BATCH]}
        totals["coupons"] += client.post("/internal/v1/import/coupons", batch)["applied"]
    for documents in _monolith_orders():
        for key, value in client.post("/internal/v1/import/orders", {"orders": documents}).items():
            totals["orders"][key] = totals["orders"].get(key, 0) + value
    command.stdout.write(json.dumps(totals) if options["json"] else f"sync orders backfill: {totals}")
    return 0


# --- status and verify ---------------------------------------------------------------------------------


def orders_status(options: dict[str, Any], command) -> int:
    here = dict(Order.objects.values_list("origin").annotate(n=Count("id")))
    there = order_client().get("/internal/v1/sync/status")
    result = {"monolith": {"orders": here}, "order_service": there}
    command.stdout.write(json.dumps(result) if options["json"] else f"sync orders status: {result}")
    return 0


def comparable(doc: dict | None) -> dict | None:
    """What must agree between the two copies of an order."""
    if doc is None:
        return None
    status = "payment_failed" if doc["status"] == "rejected" else doc["status"]
    payment = doc.get("payment") or {}
    return {
        "status": status, "user_id": doc["user_id"], "total": doc["total"], "origin": doc["origin"],
        "lines": sorted((line["product_id"], line["quantity"]) for line in doc["lines"]),
        "payment": (str(payment.get("id") or ""), payment.get("status", "")),
    }  # fmt: skip


def _service_documents(client: InternalApiClient) -> dict[str, dict]:
    found, after = {}, ""
    while True:
        batch = client.get(f"/internal/v1/export/orders?after={after}&limit={BATCH}")["orders"]
        if not batch:
            return found
        found.update({doc["number"]: doc for doc in batch})
        after = batch[-1]["number"]


def verify_orders(*, repair: bool) -> dict:
    client = order_client()
    there = _service_documents(client)
    here = {o.number: o for o in Order.objects.prefetch_related("items", "payments").select_related("coupon")}
    differences = []
    for number in sorted(set(here) | set(there)):
        mine = order_document(here[number]) if number in here else None
        theirs = there.get(number)
        owner = (mine or theirs)["origin"]
        if theirs is not None and theirs["status"] == "rejected" and mine is None:
            continue  # never an order in the monolith's terms
        if comparable(mine) != comparable(theirs):
            differences.append(
                {
                    "number": number,
                    "owner": owner,
                    "monolith": comparable(mine),
                    "service": comparable(theirs),
                }
            )
    repaired = 0
    if repair and differences:
        to_service = [order_document(here[d["number"]]) for d in differences if d["owner"] == "monolith"]
        for start in range(0, len(to_service), BATCH):
            client.post("/internal/v1/import/orders", {"orders": to_service[start : start + BATCH]})
        for d in differences:
            if d["owner"] == "service" and d["number"] in there:
                order_mirror_apply(there[d["number"]], force=True)
        repaired = len(differences)
        return {**verify_orders(repair=False), "repaired": repaired}
    return {"compared": len(set(here) | set(there)), "differences": differences, "repaired": repaired}


def orders_verify(options: dict[str, Any], command) -> int:
    result = verify_orders(repair=options["repair"])
    # the outcome the evidence gates and `decommission` read (after a repair: what is left)
    verify_record(entity="orders", differences=len(result["differences"]), clean=not result["differences"])
    if options["json"]:
        command.stdout.write(json.dumps(result, indent=2, default=str))
    else:
        command.stdout.write(
            f"sync orders verify: {result['compared']} orders compared, "
            f"{len(result['differences'])} differences, {result['repaired']} repaired"
        )
        for diff in result["differences"][:50]:
            command.stdout.write(
                f"  {diff['number']} ({diff['owner']}): monolith {diff['monolith']} service {diff['service']}"
            )
    return 1 if result["differences"] else 0


def follow_arguments(parser: argparse.ArgumentParser) -> None:
    cli.add_once(parser, "stop when the queue stays empty for --interval")
    cli.add_interval(parser, 1.0, "seconds of an empty queue before --once stops")
    cli.add_json(parser)


def plain_arguments(parser: argparse.ArgumentParser) -> None:
    cli.add_json(parser)


def verify_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--repair", action="store_true", help="re-send each differing order from its owner")
    cli.add_json(parser)
