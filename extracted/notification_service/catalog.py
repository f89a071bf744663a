"""Which events become which messages: one rule per event type (category, channels, transactional), and
the template context each event's data gives. Pure: the intake (services/intake.py) applies it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from contracts import notifications as contract
from contracts.orders import InvalidOrderDocument, validate_order


class UnusableEvent(ValueError):
    """The event's data cannot make a message (the consumer dead-letters it)."""


@dataclass(frozen=True)
class Rule:
    category: str
    channels: tuple[str, ...]
    template: str  # notifications/<locale>/<template>.{subject.txt,txt,html}
    context: Callable[[Mapping[str, Any]], dict[str, Any]]
    transactional: bool = False  # ignores opt-outs (the user asked for it)
    addressed: bool = False  # the data names the email address (account events)


def _order(data: Mapping[str, Any]) -> dict[str, Any]:
    try:
        doc = validate_order(dict(data))
    except InvalidOrderDocument as exc:
        raise UnusableEvent(f"order document: {exc.message}") from None
    return {
        "user_id": doc["user_id"],
        "number": doc["number"],
        "total": doc["total"],
        "currency": doc["currency"],
        "lines": [{"name": str(line.get("name", "")), "quantity": line["quantity"]} for line in doc["lines"]],
        "failure": (doc.get("failure") or {}).get("message", ""),
    }


def _payment(data: Mapping[str, Any]) -> dict[str, Any]:
    user_id, number = data.get("user_id"), data.get("order_number")
    if isinstance(user_id, bool) or not isinstance(user_id, int) or user_id < 1:
        raise UnusableEvent("payment event: user_id must be a positive integer")
    if not isinstance(number, str) or not number:
        raise UnusableEvent("payment event: order_number must be a string")
    return {
        "user_id": user_id,
        "number": number,
        "amount": str(data.get("amount", "")),
        "amount_refunded": str(data.get("amount_refunded", "")),
        "currency": str(data.get("currency", "")),
        "failure": str(data.get("failure_code") or ""),
    }


def _account(event_type: str) -> Callable[[Mapping[str, Any]], dict[str, Any]]:
    def context(data: Mapping[str, Any]) -> dict[str, Any]:
        try:
            doc = contract.validate_account_event(event_type, dict(data))
        except ValueError as exc:
            raise UnusableEvent(f"{event_type}: {exc}") from None
        return {
            "user_id": doc["user_id"],
            "email": doc["email"],
            "first_name": doc.get("first_name", ""),
            "locale": doc.get("locale", ""),
            "reset_url": doc.get("reset_url", ""),
        }

    return context


RULES: dict[str, Rule] = {
    "order.confirmed": Rule("orders", ("email", "push"), "order_confirmed", _order),
    "order.cancelled": Rule("orders", ("email", "push"), "order_cancelled", _order),
    "order.failed": Rule("orders", ("email",), "order_failed", _order),
    "payment.failed": Rule("payments", ("email", "sms"), "payment_failed", _payment),
    "payment.refunded": Rule("payments", ("email", "sms"), "payment_refunded", _payment),
    contract.ACCOUNT_REGISTERED: Rule(
        "account", ("email",), "account_registered", _account(contract.ACCOUNT_REGISTERED), addressed=True
    ),
    contract.ACCOUNT_PASSWORD_RESET_REQUESTED: Rule(
        "account",
        ("email",),
        "password_reset",
        _account(contract.ACCOUNT_PASSWORD_RESET_REQUESTED),
        transactional=True,
        addressed=True,
    ),
}

# Sample data per template, for the test that renders every template and for previews.
SAMPLES: dict[str, dict[str, Any]] = {
    "order_confirmed": {
        "first_name": "Ana <b>",
        "number": "TS-1001",
        "total": "149.90",
        "currency": "BRL",
        "lines": [{"name": "Mouse & Pad", "quantity": 2}],
        "failure": "",
    },
    "order_cancelled": {"first_name": "Ana", "number": "TS-1001", "total": "149.90", "currency": "BRL"},
    "order_failed": {"first_name": "Ana", "number": "TS-1001", "failure": "card declined"},
    "payment_failed": {"first_name": "Ana", "number": "TS-1001", "amount": "149.90", "currency": "BRL"},
    "payment_refunded": {
        "first_name": "Ana",
        "number": "TS-1001",
        "amount_refunded": "49.90",
        "currency": "BRL",
    },
    "account_registered": {"first_name": "Ana"},
    "password_reset": {"first_name": "Ana", "reset_url": "https://techstore.example/reset?t=abc&u=1"},
}
