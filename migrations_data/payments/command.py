"""`manage.py sync payments backfill|follow|status|verify [--repair]`: payments both ways while the payments
cutover (route.payments.charge) is partly rolled out.

- backfill: the monolith's blocklists, its own payments (origin `monolith`) with their refunds, and its
  received webhook events into the Payment service (`/internal/v1/import/...`; idempotent: copies apply by
  version). Resumable: a checkpoint after each batch (`payments.backfill`; `--restart` ignores it).
- follow: both directions until stopped (`--once`: one pass each, then stop). Back: the service's
  `payment.synced` events, as the consumer `monolith.service_payments` (retries and a DLQ like every
  consumer), each document fetched from the service and kept in the monolith's tables
  (acl_adapters.payments.translate.payment_mirror_apply: by version, origin-guarded). Forward: every
  `--interval`, the monolith's payments changed since the last pass (updated_at, re-reading `--overlap`
  seconds), with the refunds the monolith made of the service's payments after a rollback.
- status: payments per origin on both sides, the sync events not yet relayed, the consumer's queue depth.
- verify: every payment on both sides compared (contracts.payment.comparable), both directions; `--repair`
  re-sends each difference from its owner.
Exit codes: 0 done / no differences, 1 differences left, 2 error.
"""

from __future__ import annotations

import argparse
import json
import signal
import threading
import time
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db.models import Count, Q
from django.utils import timezone
from rich.console import Console
from rich.progress import Progress

from acl_adapters.payments.translate import MirrorNotReady, payment_document, payment_mirror_apply
from chassis.consumers import EventConsumer
from contracts import cli
from contracts import payment as contract
from contracts.events import Envelope
from legacy_monolith.payments.models import BlockedBin, BlockedCountry, Payment, WebhookEvent
from migrations_data.engine.checkpoint import (
    checkpoint_advance,
    checkpoint_finish,
    checkpoint_start,
    verify_record,
)
from migrations_data.engine.http import InternalApiClient
from migrations_data.engine.receive import run_receiver

QUEUE = "monolith.service_payments"
CHECKPOINT = "payments.backfill"


def payment_client() -> InternalApiClient:
    return InternalApiClient(settings.PAYMENT_SERVICE_URL, settings.INTERNAL_API_TOKEN)


def _payments():
    return Payment.objects.select_related("order").prefetch_related("refunds").order_by("id")


def _emit(command, options: dict, result: dict, text: str) -> None:
    command.stdout.write(json.dumps(result, default=str) if options.get("json") else text)


# --- backfill ----------------------------------------------------------------------------------------------


def backfill_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--batch-size", type=cli.positive_int, default=500, help="payments per import call")
    parser.add_argument("--restart", action="store_true", help="ignore an unfinished run's checkpoint")
    cli.add_no_progress(parser)
    cli.add_json(parser)


def payments_backfill(options: dict[str, Any], command) -> int:
    client, batch_size = payment_client(), options["batch_size"]
    totals: dict[str, Any] = {"blocklists": 0, "payments": {"applied": 0, "stale": 0}, "webhook_events": 0}
    totals["blocklists"] = client.post(
        "/internal/v1/import/blocklists",
        {
            "bins": [{"bin": b.bin, "reason": b.reason} for b in BlockedBin.objects.order_by("id")],
            "countries": [
                {"code": c.code, "reason": c.reason} for c in BlockedCountry.objects.order_by("id")
            ],
        },
    )["applied"]
    resume = checkpoint_start(name=CHECKPOINT, restart=options["restart"])
    mine = _payments().filter(origin="monolith")
    last_id, done = resume.last_id, resume.rows_done
    with Progress(
        console=Console(stderr=True), disable=options["no_progress"] or options["json"]
    ) as progress:
        task = progress.add_task("payments", total=done + mine.filter(id__gt=last_id).count(), completed=done)
        while True:
            batch = list(mine.filter(id__gt=last_id)[:batch_size])
            if not batch:
                break
            answer = client.post(
                "/internal/v1/import/payments", {"payments": [payment_document(p) for p in batch]}
            )
            for key in ("applied", "stale"):
                totals["payments"][key] += answer[key]
            last_id, done = batch[-1].id, done + len(batch)
            checkpoint_advance(name=CHECKPOINT, last_id=last_id, rows_done=done)
            progress.update(task, completed=done)
    checkpoint_finish(name=CHECKPOINT)
    events = list(WebhookEvent.objects.order_by("id"))
    for start in range(0, len(events), batch_size):
        documents = [_webhook_document(e) for e in events[start : start + batch_size]]
        totals["webhook_events"] += client.post("/internal/v1/import/webhook_events", {"events": documents})[
            "applied"
        ]
    totals["resumed_after"] = resume.last_id
    _emit(command, options, totals, f"sync payments backfill: {totals}")
    return 0


def _webhook_document(event: WebhookEvent) -> dict:
    return {
        "gateway": event.gateway,
        "event_id": event.event_id,
        "type": event.type,
        "payload": event.payload,
        "received_at": event.received_at.isoformat(),
        "processed_at": event.processed_at.isoformat() if event.processed_at else None,
    }


# --- follow ------------------------------------------------------------------------------------------------


def on_service_payment(envelope: Envelope) -> None:
    """A payment the service owns changed: fetch its document and keep the copy here."""
    payment_id = envelope.data.get("payment_id")
    documents = payment_client().get(f"/internal/v1/export/payments?ids={int(payment_id)}")["payments"]
    for document in documents:
        try:
            payment_mirror_apply(document)
        except MirrorNotReady:
            raise  # the order or the user has not reached the monolith yet: retried with backoff


class ServicePaymentsConsumer(EventConsumer):
    name = QUEUE
    bindings = (contract.PAYMENT_SYNCED,)
    handlers = {contract.PAYMENT_SYNCED: on_service_payment}


def follow_arguments(parser: argparse.ArgumentParser) -> None:
    cli.add_once(parser, "one pass each way, then stop")
    cli.add_interval(parser, 2.0, "seconds between forward passes")
    parser.add_argument("--overlap", type=cli.positive_float, default=5.0, help="seconds re-read per pass")
    cli.add_json(parser)


def forward_pass(client: InternalApiClient, *, since, batch_size: int = 500) -> int:
    """The monolith's payments changed since `since`, and monolith refunds of the service's payments."""
    changed = _payments().filter(Q(origin="monolith") | Q(refunds__origin="monolith"), updated_at__gte=since)
    changed = changed.distinct()
    sent = 0
    for start in range(0, changed.count(), batch_size):
        batch = [payment_document(p) for p in changed[start : start + batch_size]]
        client.post("/internal/v1/import/payments", {"payments": batch})
        sent += len(batch)
    return sent


def payments_follow(options: dict[str, Any], command) -> int:
    client, stop = payment_client(), threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    received: dict[str, Any] = {}
    receiver = threading.Thread(
        target=lambda: received.update(
            run_receiver(
                ServicePaymentsConsumer(),
                once=options["once"],
                stop_event=stop,
                timeout=options.get("timeout"),
            ).as_dict()
        ),
        daemon=True,
    )
    receiver.start()
    since, forwarded = timezone.now() - timedelta(days=36500), 0
    while True:
        started = timezone.now()
        forwarded += forward_pass(client, since=since)
        since = started - timedelta(seconds=options["overlap"])
        if options["once"] or stop.wait(options["interval"]):
            break
    receiver.join(timeout=options.get("timeout") or 60)
    stop.set()
    result = {"forwarded": forwarded, "received": received}
    _emit(command, options, result, f"sync payments follow: {result}")
    return 0


# --- status and verify -------------------------------------------------------------------------------


def plain_arguments(parser: argparse.ArgumentParser) -> None:
    cli.add_json(parser)


def payments_status(options: dict[str, Any], command) -> int:
    here = dict(Payment.objects.values_list("origin").annotate(n=Count("id")))
    result = {
        "monolith": {"payments": here},
        "payment_service": payment_client().get("/internal/v1/sync/status"),
    }
    _emit(command, options, result, f"sync payments status: {result}")
    return 0


def verify_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--repair", action="store_true", help="re-send each difference from its owner")
    cli.add_json(parser)


def _service_documents(client: InternalApiClient) -> dict[int, dict]:
    found, after = {}, 0
    while True:
        batch = client.get(f"/internal/v1/export/payments?after={after}&limit=1000")["payments"]
        if not batch:
            return found
        found.update({doc["id"]: doc for doc in batch})
        after = batch[-1]["id"]


def verify_payments(*, repair: bool) -> dict:
    client = payment_client()
    there = _service_documents(client)
    here = {p.pk: p for p in _payments()}
    differences = []
    for payment_id in sorted(set(here) | set(there)):
        mine = payment_document(here[payment_id]) if payment_id in here else None
        theirs = there.get(payment_id)
        if contract.comparable(mine) != contract.comparable(theirs):
            owner = (mine or theirs)["origin"]
            differences.append(
                {
                    "id": payment_id,
                    "owner": owner,
                    "monolith": contract.comparable(mine),
                    "service": contract.comparable(theirs),
                }
            )
    repaired = 0
    if repair:
        for difference in differences:
            try:
                if difference["owner"] == "monolith" and difference["id"] in here:
                    client.post(
                        "/internal/v1/import/payments",
                        {"payments": [payment_document(here[difference["id"]])], "force": True},
                    )
                elif difference["id"] in there:
                    payment_mirror_apply(there[difference["id"]], force=True)
                repaired += 1
            except MirrorNotReady:
                continue
    return {"compared": len(set(here) | set(there)), "differences": differences, "repaired": repaired}


def payments_verify(options: dict[str, Any], command) -> int:
    result = verify_payments(repair=options["repair"])
    if options["repair"] and result["differences"]:
        time.sleep(0.2)
        result = {**verify_payments(repair=False), "repaired": result["repaired"]}
    left = len(result["differences"])
    verify_record(entity="payments", differences=left, clean=left == 0)
    text = f"sync payments verify: {result['compared']} compared, {left} different"
    if left:
        text += "".join(f"\n  payment {d['id']} (owner {d['owner']})" for d in result["differences"][:20])
    _emit(command, options, result, text)
    return 0 if left == 0 else 1
