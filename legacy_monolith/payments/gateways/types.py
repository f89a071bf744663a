"""The monolith's terms for card gateways: cards, tokens, results, events, failures, money in minor units."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

ZERO_DECIMAL_CURRENCIES = {"JPY", "KRW", "CLP", "VND"}


@dataclass(frozen=True)
class CardDetails:
    """A card as the customer typed it. It goes to the gateway's tokenizer and nowhere else: the number and
    the CVC are left out of repr() so a log line or a traceback cannot leak them."""

    number: str = field(repr=False)
    exp_month: int
    exp_year: int
    cvc: str = field(repr=False)
    holder: str = ""

    @property
    def digits(self) -> str:
        return self.number.replace(" ", "").replace("-", "")


@dataclass(frozen=True)
class CardToken:
    token: str
    brand: str
    bin: str
    last4: str
    country: str


@dataclass(frozen=True)
class ChargeResult:
    ref: str
    status: str  # authorized | captured | declined
    decline_code: str = ""
    message: str = ""


@dataclass(frozen=True)
class RefundResult:
    ref: str
    charge_ref: str
    status: str  # pending | succeeded
    amount: Decimal


@dataclass(frozen=True)
class GatewayEvent:
    """A provider callback in the monolith's terms."""

    id: str
    type: str
    charge_ref: str = ""
    refund_ref: str = ""
    refund_reference: str = ""


class GatewayUnavailable(Exception):
    """The gateway could not be reached or did not answer sanely. `timeout` tells a read timeout apart."""

    def __init__(self, message: str, *, timeout: bool = False):
        super().__init__(message)
        self.timeout = timeout


class CardRejected(Exception):
    """The gateway refused to tokenize the card (bad number, expired, bad CVC)."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


class GatewayRejected(Exception):
    """The gateway refused a well-formed request (e.g. state or amount it disagrees with)."""

    def __init__(self, code: str, message: str, *, idempotency_conflict: bool = False):
        super().__init__(message)
        self.code = code
        self.message = message
        self.idempotency_conflict = idempotency_conflict


class InvalidEvent(Exception):
    """A webhook payload that does not have the shape this gateway sends."""


def to_minor(amount: Decimal, currency: str) -> int:
    exponent = 0 if currency in ZERO_DECIMAL_CURRENCIES else 2
    return int((amount * (10**exponent)).to_integral_exact())


def from_minor(minor: int, currency: str) -> Decimal:
    exponent = 0 if currency.upper() in ZERO_DECIMAL_CURRENCIES else 2
    return (Decimal(minor) / (10**exponent)).quantize(Decimal(1).scaleb(-exponent))
