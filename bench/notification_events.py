"""The events bench-notifications publishes: a shop's mix of what becomes one email each, every one to an
address of its own so each SMTP receipt names the event it came from.

Event n (n = 0, 1, 2, ...) is, in turn: `account.registered` (welcome), `account.password_reset_requested`
(transactional) and `order.failed` (the order's owner is looked up in the service's recipient directory, so
a `user.upserted` for that user is published, and applied, before the measured events). Each event has its
own user, so the per-user flood guard (20 per hour) is evaluated on every message but never trips.
"""

from __future__ import annotations

from dataclasses import dataclass

from contracts.events import Envelope

SOURCE = "bench_notifications"
DOMAIN = "bench.example"
KINDS = ("account.registered", "account.password_reset_requested", "order.failed")


@dataclass(frozen=True)
class PlannedEvent:
    number: int
    user_id: int
    recipient: str
    kind: str
    data: dict

    @property
    def needs_recipient(self) -> bool:
        return self.kind == "order.failed"

    def envelope(self) -> Envelope:
        """A fresh envelope: its occurred_at is the moment of publication."""
        return Envelope.new(self.kind, self.data, source=SOURCE)


def recipient_of(number: int, tag: str) -> str:
    return f"n{number}.{tag}@{DOMAIN}"


def user_document(user_id: int, email: str) -> dict:
    return {
        "id": user_id, "username": f"bench{user_id}", "email": email, "first_name": "Ana",
        "last_name": "Silva", "phone": "+5511999990000", "role": "customer", "is_active": True,
        "date_joined": "2026-01-02T03:04:05Z", "password": "", "origin": "auth", "version": 1,
    }  # fmt: skip


def order_document(user_id: int, number: str) -> dict:
    return {
        "number": number, "order_id": number, "origin": "service", "version": 2, "user_id": user_id,
        "status": "payment_failed", "currency": "BRL", "subtotal": "100.00", "discount_total": "0.00",
        "shipping_total": "10.00", "total": "110.00", "coupon_code": None,
        "shipping": {"name": "Ana", "line1": "Rua 1", "city": "SP", "postal_code": "01000", "country": "BR",
                     "carrier": "correios"},
        "lines": [{"product_id": 1, "sku": "SKU-1", "name": "Mouse pro", "unit_price": "50.00",
                   "quantity": 2, "line_total": "100.00"}],
        "payment": None, "failure": {"code": "card_declined", "message": "card declined"},
        "created_at": "2026-01-02T03:04:05Z", "paid_at": None, "cancelled_at": None,
    }  # fmt: skip


def planned_event(number: int, tag: str) -> PlannedEvent:
    """Event `number` of the mix (its Envelope is made when it is published)."""
    user_id = number + 1
    recipient = recipient_of(number, tag)
    kind = KINDS[number % len(KINDS)]
    locale = ("pt-BR", "en")[number % 2]
    if kind == "order.failed":
        data = order_document(user_id, f"TS-B{number}")
    else:
        data = {"user_id": user_id, "email": recipient, "first_name": "Ana", "locale": locale}
        if kind == "account.password_reset_requested":
            data["reset_url"] = f"https://techstore.example/reset?t=bench{number}&u={user_id}"
    return PlannedEvent(number, user_id, recipient, kind, data)


def plan(start: int, count: int, tag: str) -> list[PlannedEvent]:
    return [planned_event(n, tag) for n in range(start, start + count)]


def recipients_for(events: list[PlannedEvent]) -> list[Envelope]:
    """The `user.upserted` events the order events' owners need in the directory first."""
    return [
        Envelope.new("user.upserted", user_document(e.user_id, e.recipient), source=SOURCE)
        for e in events
        if e.needs_recipient
    ]
