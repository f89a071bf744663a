"""Card gateways the monolith charges through, behind one interface. `gateway_client(name)` builds a
client from settings.PAYMENT_GATEWAYS (read at call time, so tests can point it at a sandbox)."""

from django.conf import settings

from .base import (
    CardDetails,
    CardRejected,
    CardToken,
    ChargeResult,
    GatewayClient,
    GatewayEvent,
    GatewayRejected,
    GatewayUnavailable,
    InvalidEvent,
    RefundResult,
)
from .cardinal import CardinalClient
from .northpay import NorthpayClient

CLIENTS: dict[str, type[GatewayClient]] = {"cardinal": CardinalClient, "northpay": NorthpayClient}


def gateway_names() -> list[str]:
    return [name for name in settings.PAYMENT_GATEWAYS if name in CLIENTS]


def gateway_client(name: str) -> GatewayClient:
    """The client of a configured gateway; GatewayUnavailable when the name is not (or no longer) one."""
    if name not in gateway_names():
        raise GatewayUnavailable(f"payment gateway {name!r} is not configured")
    return CLIENTS[name](settings.PAYMENT_GATEWAYS[name], settings.PAYMENT_API_KEY)


__all__ = [
    "CLIENTS",
    "CardDetails",
    "CardRejected",
    "CardToken",
    "ChargeResult",
    "GatewayClient",
    "GatewayEvent",
    "GatewayRejected",
    "GatewayUnavailable",
    "InvalidEvent",
    "RefundResult",
    "gateway_client",
    "gateway_names",
]
