"""The saga's payment participant: a PORT, with one adapter per payment backend.

Checkout's saga never talks to a payment backend directly. It calls the methods below on the adapter
chosen for the order when the order was created (`Order.payment_adapter`, decided once by
`choose_payment_adapter`, so an order never pays on both sides), through the participant consumer
(`order_service.saga_participants`), which turns each command message into one call and the call's
outcome into a reply message. Adapters register in `PAYMENT_ADAPTERS` by name:

- `monolith` (payment_monolith.py): the monolith's payments app, through its internal endpoints
  `/internal/v1/payments/tokenize|authorize|capture|void|refund` (bearer INTERNAL_API_TOKEN).
- `payment_service` (payment_service.py): the Payment service's asynchronous charge API, chosen per order
  by the flag `route.payments.charge` in `choose_payment_adapter`.

THE CONTRACT every adapter keeps
================================

Methods (all keyword arguments are in the command dataclasses below; amounts are Decimal with 2 places):

- `tokenize(TokenizeCard) -> CardToken`: synchronous, during the checkout request, BEFORE the order
  exists. The card number and CVC live only in this call's memory: the Order service stores no card
  number, ever, only the token and the display facts (brand, BIN, last four, country, fingerprint).
  A card the backend refuses to tokenize is NOT an exception: the adapter returns a `CardToken` with
  `error_code`/`error_message` set and `token=""`; authorize then answers `declined` with that code, so
  the order fails like the monolith's (payment_failed, cart restored, 402 payment_declined).
- `authorize(AuthorizePayment) -> PaymentOutcome`: antifraud and an authorization hold for `amount`.
  Outcomes: `authorized` (payment_ref set), or a refusal `declined` | `rejected_fraud` | `failed`
  (code + message the customer can act on), or `pending` (see below).
- `capture(CapturePayment) -> PaymentOutcome`: capture an authorized payment in full: `captured`, a
  refusal (`failed`), or `pending`.
- `void(VoidPayment) -> PaymentOutcome`: release an authorization that was not captured: `voided`. Voiding
  a payment that was never authorized (or is unknown to the backend) is `voided` too: compensation must
  always be able to finish.
- `refund(RefundPayment) -> PaymentOutcome`: give a captured payment back in full: `refunded`
  (or `pending`). Refunding what was never captured is `voided` (nothing to give back).

Idempotency: every command carries `idempotency_key`, unique per (saga, action)
(`<order number>:<action>`). A second call with the same key MUST return the first call's outcome and move
no money (the participant consumer may call again after a crash, a redelivery or a timeout).

Failures:
- `ParticipantUnavailable` (raise it): the backend could not be reached or answered 5xx/timeout; the saga
  retries the step with exponential backoff and full jitter until the step's deadline, then compensates.
  Raise it only when the call may be repeated safely (it always may, thanks to the idempotency key).
- A refusal is an outcome, not an exception: the saga compensates at once.
- `pending`: the backend accepted the command and will tell the outcome later (an asynchronous service).
  The adapter's backend then reports the final outcome to the Order service, which calls
  `extracted.order_service.saga.engine.saga_reply(saga_id=..., step=..., outcome=...)` (e.g. from a
  consumer of the backend's `payment.*` events, keyed by `saga_id` / `idempotency_key`); until then the
  step waits, and past its deadline it is compensated like any other step.

Every outcome names `payment_id` (the backend's id, shown in the v1 order's `payment.id`), `status` (the
backend's payment status, shown in `payment.status`), and `gateway`, `card_brand`, `card_last4` when known.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Literal, Protocol

Outcome = Literal[
    "authorized", "captured", "voided", "refunded", "pending", "declined", "rejected_fraud", "failed"
]
REFUSALS = frozenset({"declined", "rejected_fraud", "failed"})


class ParticipantUnavailable(Exception):
    """The participant's backend could not be reached or did not answer in time: retry the step later."""


@dataclass(frozen=True)
class CardDetails:
    """A card as the customer typed it; never stored, never logged (number and CVC are left out of repr)."""

    number: str = field(repr=False)
    exp_month: int
    exp_year: int
    cvc: str = field(repr=False)
    holder: str = ""


@dataclass(frozen=True)
class TokenizeCard:
    card: CardDetails
    gateway: str | None  # None: the backend's default gateway
    user_id: int


@dataclass(frozen=True)
class CardToken:
    token: str
    gateway: str
    brand: str = ""
    bin: str = ""
    last4: str = ""
    country: str = ""
    fingerprint: str = ""  # the backend's keyed digest of the number (velocity rules), never the number
    error_code: str = ""  # set when the card was refused at tokenization (token is then "")
    error_message: str = ""


@dataclass(frozen=True)
class AuthorizePayment:
    saga_id: str
    idempotency_key: str
    order: dict  # the order document (contracts.orders), so a backend can keep its own copy of the order
    amount: Decimal
    currency: str
    card: CardToken
    client_ip: str | None
    deadline: datetime  # the saga's deadline: retries past it are pointless


@dataclass(frozen=True)
class CapturePayment:
    saga_id: str
    idempotency_key: str
    order_number: str
    payment_id: str
    amount: Decimal
    currency: str
    deadline: datetime


@dataclass(frozen=True)
class VoidPayment:
    saga_id: str
    idempotency_key: str
    order_number: str
    payment_id: str  # "" when authorize never answered: the backend finds it by the authorize key
    authorize_key: str
    reason: str


@dataclass(frozen=True)
class RefundPayment:
    saga_id: str
    idempotency_key: str
    order_number: str
    payment_id: str
    amount: Decimal
    currency: str
    reason: str


@dataclass(frozen=True)
class PaymentOutcome:
    outcome: Outcome
    payment_id: str = ""
    status: str = ""  # the backend's payment status, as the v1 order shows it
    gateway: str = ""
    card_brand: str = ""
    card_last4: str = ""
    code: str = ""  # a refusal's stable code (card_declined, fraud_suspected, gateway_timeout, ...)
    message: str = ""

    @property
    def refused(self) -> bool:
        return self.outcome in REFUSALS

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}

    @classmethod
    def from_dict(cls, data: dict) -> PaymentOutcome:
        return cls(**{k: str(data.get(k) or "") for k in cls.__dataclass_fields__})


class PaymentPort(Protocol):
    """What the saga needs from a payment backend (see the module docstring for the contract)."""

    name: str

    def tokenize(self, command: TokenizeCard) -> CardToken: ...
    def authorize(self, command: AuthorizePayment) -> PaymentOutcome: ...
    def capture(self, command: CapturePayment) -> PaymentOutcome: ...
    def void(self, command: VoidPayment) -> PaymentOutcome: ...
    def refund(self, command: RefundPayment) -> PaymentOutcome: ...


# name -> factory of the adapter (called once per process, lazily)
PAYMENT_ADAPTERS: dict[str, Callable[[], PaymentPort]] = {}
_instances: dict[str, PaymentPort] = {}


def register_payment_adapter(name: str, factory: Callable[[], PaymentPort]) -> None:
    PAYMENT_ADAPTERS[name] = factory
    _instances.pop(name, None)


def payment_adapter(name: str) -> PaymentPort:
    """The adapter an order recorded; LookupError for a name no adapter registered."""
    if name not in _instances:
        _register_builtin()
        try:
            factory = PAYMENT_ADAPTERS[name]
        except KeyError:
            raise LookupError(f"no payment adapter {name!r} (known: {', '.join(PAYMENT_ADAPTERS)})") from None
        _instances[name] = factory()
    return _instances[name]


def choose_payment_adapter(*, user_id: int) -> str:
    """Which backend pays a NEW order (stored on the order; never changed afterwards).

    The Payment service (`payment_service`) when the flag `route.payments.charge` is on for this user
    (sticky per user, so a percentage rollout moves whole customers), else settings.ORDER_PAYMENT_ADAPTER
    (default `monolith`)."""
    from django.conf import settings

    from .payment_service import NAME, payment_service_chosen

    if payment_service_chosen(user_id):
        return NAME
    return settings.ORDER_PAYMENT_ADAPTER


def _register_builtin() -> None:
    if "monolith" not in PAYMENT_ADAPTERS:
        from .payment_monolith import MonolithPayments

        PAYMENT_ADAPTERS["monolith"] = MonolithPayments
    if "payment_service" not in PAYMENT_ADAPTERS:
        from django.conf import settings

        if settings.ORDER_PAYMENT_TRANSPORT == "grpc":
            from .payment_grpc import GrpcPaymentServicePayments

            PAYMENT_ADAPTERS["payment_service"] = GrpcPaymentServicePayments
        else:
            from .payment_service import PaymentServicePayments

            PAYMENT_ADAPTERS["payment_service"] = PaymentServicePayments
