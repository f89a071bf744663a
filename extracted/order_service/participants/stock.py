"""The saga's stock participant: a port with an HTTP adapter, pointed at whoever owns stock (and a gRPC
adapter for the Product service, stock_grpc.py, with ORDER_STOCK_TRANSPORT=grpc).

`PRODUCT_STOCK_OWNER=service`: the Product service's `/internal/v1/stock/reserve|release`;
`monolith` (before the stock cutover): the monolith's `/internal/v1/stock/reserve|release`, which keeps the
same contract: `reserve {"reference", "lines": [{"product_id", "quantity"}]}` is all or nothing (201 new,
200 a replay of the same reference, 409 `out_of_stock` / `product_unavailable` naming the short lines),
`release {"reference"}` gives a reservation back once (404 `reservation_not_found` when there is none,
which a compensation takes as done). The reference is `order-<order number>`, the one the Product
service's `order.created`/`order.cancelled` consumers use, so an event and a command never reserve twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from django.conf import settings

from .http import internal_post


@dataclass(frozen=True)
class StockOutcome:
    outcome: str  # reserved | released | refused
    code: str = ""
    message: str = ""
    extra: dict | None = None

    @property
    def refused(self) -> bool:
        return self.outcome == "refused"


class StockPort(Protocol):
    """`deadline`: when the saga step stops waiting (the gRPC adapter sends it as the call's deadline)."""

    def reserve(
        self, *, reference: str, lines: list[dict], deadline: datetime | None = None
    ) -> StockOutcome: ...
    def release(self, *, reference: str, deadline: datetime | None = None) -> StockOutcome: ...


def stock_reference(order_number: str) -> str:
    return f"order-{order_number}"


class HttpStock:
    """Either owner's internal stock API (they share one contract)."""

    def __init__(self, base_url: str, owner: str):
        self.base_url, self.owner = base_url, owner

    def reserve(self, *, reference: str, lines: list[dict], deadline: datetime | None = None) -> StockOutcome:
        status, body = internal_post(
            self.base_url,
            "/internal/v1/stock/reserve",
            {"reference": reference, "lines": lines},
            what=f"{self.owner} stock reserve",
        )
        if status in (200, 201):
            return StockOutcome("reserved")
        return StockOutcome(
            "refused", str(body.get("code", "")), str(body.get("message", "")), body.get("extra")
        )

    def release(self, *, reference: str, deadline: datetime | None = None) -> StockOutcome:
        status, body = internal_post(
            self.base_url,
            "/internal/v1/stock/release",
            {"reference": reference},
            what=f"{self.owner} stock release",
        )
        if status in (200, 404):  # released now, earlier, or never reserved: nothing held either way
            return StockOutcome("released")
        return StockOutcome(
            "refused", str(body.get("code", "")), str(body.get("message", "")), body.get("extra")
        )


def stock_port(owner: str) -> StockPort:
    """The adapter for `owner`: the monolith over REST; the Product service over REST, or over gRPC with
    ORDER_STOCK_TRANSPORT=grpc (stock_grpc.GrpcStock, PRODUCT_GRPC_TARGET)."""
    if owner == "service":
        if settings.ORDER_STOCK_TRANSPORT == "grpc":
            from .stock_grpc import GrpcStock

            return GrpcStock(settings.PRODUCT_GRPC_TARGET)
        return HttpStock(settings.PRODUCT_SERVICE_URL, "product service")
    return HttpStock(settings.MONOLITH_URL, "monolith")


def stock_participant() -> StockPort:
    """The owner of stock right now (PRODUCT_STOCK_OWNER)."""
    return stock_port(settings.PRODUCT_STOCK_OWNER)
