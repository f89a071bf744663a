"""Card providers behind one port (port.py): `provider(name)` for live calls, `provider(name, test=True)`
for the provider's test mode (PAYMENT_<NAME>_TEST_URL and PAYMENT_TEST_API_KEY), which shadow requests
use so that nothing they do is a real charge.

The adapters are the service's own, written for this port (typed results, void, test mode, keys the
caller derives): they resemble the monolith's legacy_monolith/payments/gateways because both speak the
same two provider APIs; the monolith's copy goes with the monolith's payments app at decommissioning."""

from __future__ import annotations

from django.conf import settings

from .cardinal import Cardinal
from .northpay import Northpay
from .port import (
    CardDetails,
    CardRejected,
    CardToken,
    ChargeResult,
    InvalidEvent,
    Provider,
    ProviderEvent,
    ProviderRejected,
    ProviderUnavailable,
    RefundResult,
)
from .transport import ProviderHttp

ADAPTERS: dict[str, type[Cardinal] | type[Northpay]] = {"cardinal": Cardinal, "northpay": Northpay}


class UnknownProvider(LookupError):
    pass


def provider_names() -> list[str]:
    return [name for name in settings.PAYMENT_GATEWAYS if name in ADAPTERS]


def provider(name: str, *, test: bool = False) -> Provider:
    """The adapter of a configured provider, in live or test mode."""
    if name not in provider_names():
        raise UnknownProvider(name)
    url = (settings.PAYMENT_TEST_GATEWAYS if test else settings.PAYMENT_GATEWAYS)[name]
    http = ProviderHttp(name, url, timeouts=(settings.PAYMENT_CONNECT_TIMEOUT, settings.PAYMENT_READ_TIMEOUT))
    return ADAPTERS[name](http, settings.PAYMENT_TEST_API_KEY if test else settings.PAYMENT_API_KEY)


__all__ = [
    "CardDetails",
    "CardRejected",
    "CardToken",
    "ChargeResult",
    "InvalidEvent",
    "Provider",
    "ProviderEvent",
    "ProviderRejected",
    "ProviderUnavailable",
    "RefundResult",
    "UnknownProvider",
    "provider",
    "provider_names",
]
