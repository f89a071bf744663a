"""Helpers for the payments tests: cards, a charge through the sandbox, signed webhook requests."""

import json
import time

import pytest

from legacy_monolith.payments.gateways import CardDetails
from legacy_monolith.payments.services import payment_charge
from sandbox.signing import signed_headers
from tests.factories import OrderFactory

APPROVED = "4242424242424242"  # BIN 424242: issued in FR, like the factories' shipping address
DECLINED = "4000000000000002"  # BIN 400000: issued in US
INSUFFICIENT_FUNDS = "4000000000009995"


def card(number: str = APPROVED, *, exp_year: int = 2030, cvc: str = "123") -> CardDetails:
    return CardDetails(number=number, exp_month=12, exp_year=exp_year, cvc=cvc, holder="Ada Lovelace")


@pytest.fixture
def charge(sandbox):
    """charge(number=..., gateway=..., key=..., order=...) -> Payment, through the running sandbox."""
    counter = iter(range(1, 10_000))

    def make(
        number: str = APPROVED, *, gateway: str = "cardinal", key: str | None = None, order=None, **order_kw
    ):
        order = order or OrderFactory(status="pending_payment", **order_kw)
        return payment_charge(
            order=order,
            card=card(number),
            gateway=gateway,
            idempotency_key=key or f"test-charge-{next(counter)}",
            client_ip="203.0.113.7",
        )

    return make


def signed_webhook(event: dict, secret: str, *, timestamp: int | None = None) -> tuple[bytes, dict]:
    """A webhook body and its headers, signed with the sandbox's own signing code."""
    body = json.dumps(event).encode()
    headers = signed_headers(secret, body, int(time.time()) if timestamp is None else timestamp)
    return body, headers


@pytest.fixture(scope="session")
def monolith_url(live_server) -> str:
    """pytest-django's live_server (a real HTTP server in a thread) for webhook deliveries."""
    return live_server.url
