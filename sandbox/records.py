"""The records one simulated gateway keeps (amounts in integer minor units) and its neutral error."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .cards import CardFacts

ZERO_DECIMAL_CURRENCIES = {"JPY", "KRW", "CLP", "VND"}


def currency_exponent(currency: str) -> int:
    return 0 if currency in ZERO_DECIMAL_CURRENCIES else 2


class GatewayError(Exception):
    """A request the gateway refuses. `code` is gateway-neutral; each HTTP layer renders it its own way."""

    def __init__(self, code: str, message: str, **details: Any):
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details


@dataclass
class Card:
    token: str
    facts: CardFacts
    holder: str
    created: int


@dataclass
class Charge:
    id: str
    card: Card
    amount: int
    currency: str
    status: str  # authorized | declined | captured | voided
    decline_code: str | None
    reference: str
    metadata: dict
    created: int
    amount_captured: int = 0
    amount_refunded: int = 0
    refund_ids: list[str] = field(default_factory=list)


@dataclass
class Refund:
    id: str
    charge_id: str
    amount: int
    currency: str
    status: str  # pending | succeeded
    reason: str
    reference: str
    created: int


@dataclass
class Event:
    id: str
    type: str
    created: int
    data: dict

    def envelope(self, gateway: str) -> dict:
        return {
            "id": self.id,
            "type": self.type,
            "created": self.created,
            "gateway": gateway,
            "data": self.data,
        }


@dataclass
class IdempotencyRecord:
    fingerprint: str
    status: int
    body: dict
    resource: tuple[str, str] | None  # ("charge"|"refund", id)


@dataclass(frozen=True)
class Fault:
    latency_s: float = 0.0
    error: bool = False
    timeout: bool = False
    decline: bool = False
    hold_s: float = 0.0
