"""The in-process state of one simulated gateway: cards, charges, refunds, idempotency records, events.

Amounts are integer minor units inside; each gateway's HTTP layer speaks its own shape. Every mutation
happens under the gateway's lock; sleeps (latency, held timeouts) happen outside it.
"""

from __future__ import annotations

import datetime as dt
import random
import secrets
import threading
import time
from collections.abc import Callable
from typing import Any

from . import webhooks
from .cards import CardError, examine
from .knobs import Knobs
from .records import (
    Card,
    Charge,
    Event,
    Fault,
    GatewayError,
    IdempotencyRecord,
    Refund,
    currency_exponent,
)

__all__ = ["Card", "Charge", "Event", "Fault", "Gateway", "GatewayError", "Refund", "currency_exponent"]

Renderer = Callable[[Any], dict]


class Gateway:
    """One simulated provider. Subclasses render resources and errors in their own API shape."""

    name = "gateway"
    prefixes = {"token": "tok_", "charge": "ch_", "refund": "re_", "event": "evt_"}
    refunds_settle_async = False

    def __init__(self, base_knobs: Knobs):
        self.lock = threading.RLock()
        self.base_knobs = base_knobs
        self.generation = 0
        self.reset(base_knobs.seed)

    # --- rendering (per gateway) ----------------------------------------------------------------------
    def render_charge(self, charge: Charge) -> dict:
        raise NotImplementedError

    def render_refund(self, refund: Refund) -> dict:
        raise NotImplementedError

    def render_error(self, error: GatewayError) -> tuple[int, dict]:
        raise NotImplementedError

    def render_resource(self, resource: tuple[str, str] | None) -> dict | None:
        if resource is None:
            return None
        kind, ident = resource
        return (
            self.render_charge(self.charges[ident])
            if kind == "charge"
            else self.render_refund(self.refunds[ident])
        )

    # --- control plane --------------------------------------------------------------------------------
    def reset(self, seed: int | None = None) -> None:
        with self.lock:
            self.generation += 1
            self.knobs = self.base_knobs.updated({"seed": seed})
            self.rng = random.Random(seed)
            self.cards: dict[str, Card] = {}
            self.charges: dict[str, Charge] = {}
            self.refunds: dict[str, Refund] = {}
            self.events: dict[str, Event] = {}
            self.deliveries: list[dict] = []
            self.idempotency: dict[str, IdempotencyRecord] = {}

    def configure(self, changes: dict[str, Any]) -> Knobs:
        with self.lock:
            knobs = self.knobs.updated(changes)
            if "seed" in changes:
                self.rng = random.Random(knobs.seed)
            self.knobs = knobs
            return knobs

    def draw(self, operation: str) -> Fault:
        """Decide the faults of one request. Three draws per request keep a seeded run reproducible."""
        with self.lock:
            k = self.knobs
            r_error, r_timeout, r_decline = self.rng.random(), self.rng.random(), self.rng.random()
        if operation not in k.operations:
            return Fault()
        return Fault(
            latency_s=k.latency_ms / 1000,
            error=r_error < k.error_rate,
            timeout=r_timeout < k.timeout_rate,
            decline=operation == "authorize" and r_decline < k.decline_rate,
            hold_s=k.timeout_seconds,
        )

    # --- one request, with faults and idempotency -----------------------------------------------------
    def handle(
        self,
        operation: str,
        *,
        action: Callable[[Fault], tuple[int, dict, tuple[str, str] | None]],
        idempotency_key: str | None = None,
        fingerprint: str = "",
    ) -> tuple[int, dict, dict[str, str]]:
        fault = self.draw(operation)
        if fault.latency_s:
            time.sleep(fault.latency_s)
        if fault.error:
            return (*self.render_error(GatewayError("unavailable", "Simulated gateway failure")), {})
        headers: dict[str, str] = {}
        with self.lock:
            record = self.idempotency.get(idempotency_key) if idempotency_key else None
            if record is not None and record.fingerprint != fingerprint:
                status, body = self.render_error(
                    GatewayError("idempotency_conflict", "This idempotency key was used with another request")
                )
                return status, body, headers
            if record is not None:
                status, body = record.status, record.body
                headers["Idempotent-Replayed"] = "true"
            else:
                resource = None
                try:
                    status, body, resource = action(fault)
                except GatewayError as error:
                    status, body = self.render_error(error)
                if idempotency_key:
                    self.idempotency[idempotency_key] = IdempotencyRecord(fingerprint, status, body, resource)
        if fault.timeout:
            time.sleep(fault.hold_s)
        return status, body, headers

    def lookup_key(self, key: str) -> IdempotencyRecord:
        with self.lock:
            record = self.idempotency.get(key)
        if record is None:
            raise GatewayError("not_found", f"No request with idempotency key {key}")
        return record

    # --- operations (called under the lock from `handle`) ---------------------------------------------
    def new_id(self, kind: str) -> str:
        return self.prefixes[kind] + secrets.token_hex(10)

    def tokenize(self, *, number: Any, exp_month: Any, exp_year: Any, cvc: Any, holder: str) -> Card:
        try:
            facts = examine(number, exp_month, exp_year, cvc, today=dt.datetime.now(dt.UTC).date())
        except CardError as error:
            raise GatewayError(error.code, error.message) from None
        card = Card(self.new_id("token"), facts, holder, int(time.time()))
        self.cards[card.token] = card
        return card

    def authorize(
        self, *, token: str, amount: int, currency: str, reference: str, metadata: dict, fault: Fault
    ) -> Charge:
        card = self.cards.get(token)
        if card is None:
            raise GatewayError("token_unknown", f"No card token {token}")
        decline = card.facts.scripted_decline or ("do_not_honor" if fault.decline else None)
        charge = Charge(
            id=self.new_id("charge"),
            card=card,
            amount=amount,
            currency=currency,
            status="declined" if decline else "authorized",
            decline_code=decline,
            reference=reference,
            metadata=metadata,
            created=int(time.time()),
        )
        self.charges[charge.id] = charge
        return charge

    def get_charge(self, charge_id: str) -> Charge:
        charge = self.charges.get(charge_id)
        if charge is None:
            raise GatewayError("not_found", f"No charge {charge_id}")
        return charge

    def get_refund(self, refund_id: str) -> Refund:
        refund = self.refunds.get(refund_id)
        if refund is None:
            raise GatewayError("not_found", f"No refund {refund_id}")
        return refund

    def capture(self, *, charge_id: str, amount: int | None) -> Charge:
        charge = self.get_charge(charge_id)
        if charge.status != "authorized":
            raise GatewayError("not_capturable", f"Charge {charge_id} is {charge.status}, not authorized")
        amount = charge.amount if amount is None else amount
        if amount > charge.amount:
            raise GatewayError(
                "amount_too_large", "Cannot capture more than was authorized", limit=charge.amount
            )
        charge.status, charge.amount_captured = "captured", amount
        self.emit("charge.captured", self.render_charge(charge))
        return charge

    def void(self, *, charge_id: str) -> Charge:
        """Release an authorization that was never captured (the hold on the card goes away)."""
        charge = self.get_charge(charge_id)
        if charge.status != "authorized":
            raise GatewayError("not_voidable", f"Charge {charge_id} is {charge.status}, not authorized")
        charge.status = "voided"
        self.emit("charge.voided", self.render_charge(charge))
        return charge

    def refund(self, *, charge_id: str, amount: int | None, reason: str, reference: str) -> Refund:
        charge = self.get_charge(charge_id)
        if charge.status != "captured":
            raise GatewayError("not_refundable", f"Charge {charge_id} is {charge.status}, not captured")
        remaining = charge.amount_captured - charge.amount_refunded
        amount = remaining if amount is None else amount
        if remaining <= 0:
            raise GatewayError("not_refundable", f"Charge {charge_id} is already fully refunded")
        if amount > remaining:
            raise GatewayError("amount_too_large", "Cannot refund more than was captured", limit=remaining)
        refund = Refund(
            id=self.new_id("refund"),
            charge_id=charge.id,
            amount=amount,
            currency=charge.currency,
            status="pending" if self.refunds_settle_async else "succeeded",
            reason=reason,
            reference=reference,
            created=int(time.time()),
        )
        self.refunds[refund.id] = refund
        charge.refund_ids.append(refund.id)
        charge.amount_refunded += amount
        if self.refunds_settle_async:
            timer = threading.Timer(
                self.knobs.refund_settle_ms / 1000, self._settle_refund, (refund.id, self.generation)
            )
            timer.daemon = True
            timer.start()
        else:
            self.emit("refund.succeeded", self.render_refund(refund))
        return refund

    def _settle_refund(self, refund_id: str, generation: int) -> None:
        with self.lock:
            refund = self.refunds.get(refund_id)
            if generation != self.generation or refund is None or refund.status != "pending":
                return
            refund.status = "succeeded"
            self.emit("refund.succeeded", self.render_refund(refund))

    # --- webhooks -------------------------------------------------------------------------------------
    def emit(self, event_type: str, data: dict) -> Event:
        """Record an event and, when a webhook URL is configured, deliver it in the background."""
        event = Event(self.new_id("event"), event_type, int(time.time()), data)
        self.events[event.id] = event
        if self.knobs.webhook_url:
            webhooks.schedule(self, event, self.knobs, self.generation)
        return event

    def record_delivery(self, delivery: dict, generation: int | None = None) -> None:
        with self.lock:
            if generation is None or generation == self.generation:
                self.deliveries.append(delivery)
