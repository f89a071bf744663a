"""The port every card provider adapter implements, in the Payment service's own terms.

Declines are results (`ChargeResult.status == "declined"`), not exceptions. Transport errors, timeouts and
5xx answers are `ProviderUnavailable` (retryable: the caller retries with the same idempotency key, which
the provider replays). A timed-out or conflicting money-moving call is settled by looking its idempotency
key up at the provider before it is called a failure (`Provider._reconciled`): the key is ours, so an
earlier result under it is ours to adopt. Every money-moving call carries an idempotency key.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeVar

log = logging.getLogger("extracted.payment_service.providers")

ZERO_DECIMAL_CURRENCIES = frozenset({"JPY", "KRW", "CLP", "VND"})
T = TypeVar("T")


@dataclass(frozen=True)
class CardDetails:
    """A card as the customer typed it: it goes to the provider's tokenizer and nowhere else. The number
    and the CVC are left out of repr() so a log line or a traceback cannot carry them."""

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
    status: str  # authorized | captured | declined | voided
    decline_code: str = ""
    message: str = ""


@dataclass(frozen=True)
class RefundResult:
    ref: str
    charge_ref: str
    status: str  # pending | succeeded
    amount: Decimal


@dataclass(frozen=True)
class ProviderEvent:
    id: str
    type: str
    charge_ref: str = ""
    refund_ref: str = ""
    refund_reference: str = ""


class ProviderUnavailable(Exception):
    """Unreachable, timed out (`timeout`), 5xx, or an answer we cannot read: retry with the same key."""

    def __init__(self, message: str, *, timeout: bool = False):
        super().__init__(message)
        self.timeout = timeout


class CardRejected(Exception):
    """The provider refused to tokenize the card (bad number, expired, bad CVC)."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code, self.message = code, message


class ProviderRejected(Exception):
    """The provider refused a well-formed request (a state or an amount it disagrees with)."""

    def __init__(self, code: str, message: str, *, idempotency_conflict: bool = False, not_found=False):
        super().__init__(message)
        self.code, self.message = code, message
        self.idempotency_conflict = idempotency_conflict
        self.not_found = not_found


class InvalidEvent(Exception):
    """A webhook payload that does not have the shape this provider sends."""


def to_minor(amount: Decimal, currency: str) -> int:
    exponent = 0 if currency.upper() in ZERO_DECIMAL_CURRENCIES else 2
    return int((amount * (10**exponent)).to_integral_exact())


def from_minor(minor: int, currency: str) -> Decimal:
    exponent = 0 if currency.upper() in ZERO_DECIMAL_CURRENCIES else 2
    return (Decimal(minor) / (10**exponent)).quantize(Decimal(1).scaleb(-exponent))


class Provider:
    """One card provider (live or test mode). Adapters implement the `_`-prefixed calls and the reads."""

    name = "provider"

    def tokenize(self, card: CardDetails) -> CardToken:
        raise NotImplementedError

    def status(self, *, charge_ref: str) -> ChargeResult:
        raise NotImplementedError

    def lookup(self, *, idempotency_key: str) -> ChargeResult | RefundResult | None:
        """What the request sent with this key did, or None when the provider never saw it."""
        raise NotImplementedError

    def parse_event(self, payload: dict[str, Any]) -> ProviderEvent:
        raise NotImplementedError

    def authorize(
        self, *, token: str, amount: Decimal, currency: str, reference: str, idempotency_key: str
    ) -> ChargeResult:
        return self._reconciled(
            lambda: self._authorize(token, amount, currency, reference, idempotency_key), idempotency_key
        )

    def capture(self, *, charge_ref: str, amount: Decimal, currency: str, idempotency_key: str):
        return self._reconciled(
            lambda: self._capture(charge_ref, amount, currency, idempotency_key), idempotency_key
        )

    def void(self, *, charge_ref: str, idempotency_key: str) -> ChargeResult:
        return self._reconciled(lambda: self._void(charge_ref, idempotency_key), idempotency_key)

    def refund(
        self,
        *,
        charge_ref: str,
        amount: Decimal,
        currency: str,
        reference: str,
        reason: str,
        idempotency_key: str,
    ) -> RefundResult:
        return self._reconciled(
            lambda: self._refund(charge_ref, amount, currency, reference, reason, idempotency_key),
            idempotency_key,
        )

    def _authorize(self, token, amount, currency, reference, idempotency_key) -> ChargeResult:
        raise NotImplementedError

    def _capture(self, charge_ref, amount, currency, idempotency_key) -> ChargeResult:
        raise NotImplementedError

    def _void(self, charge_ref, idempotency_key) -> ChargeResult:
        raise NotImplementedError

    def _refund(self, charge_ref, amount, currency, reference, reason, idempotency_key) -> RefundResult:
        raise NotImplementedError

    def _reconciled(self, call: Callable[[], T], idempotency_key: str) -> T:
        try:
            return call()
        except ProviderUnavailable as exc:
            if not exc.timeout:
                raise
            found = self.lookup(idempotency_key=idempotency_key)
            if found is None:
                raise
            log.warning(
                "provider call timed out; settled by its idempotency key", extra={"provider": self.name}
            )
            return found
        except ProviderRejected as exc:
            if not exc.idempotency_conflict:
                raise
            found = self.lookup(idempotency_key=idempotency_key)
            if found is None:
                raise
            return found
