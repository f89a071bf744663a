"""/internal/v1/stock/reserve|release: the monolith's stock, for the Order service's saga while the monolith
still owns stock (PRODUCT_STOCK_OWNER=monolith). Same contract as the Product service's endpoints:

- `reserve {"reference", "lines": [{"product_id", "quantity"}]}`: all lines or none (201); the same
  reference again answers the first reservation (200) and takes nothing; 409 `out_of_stock` or
  `product_unavailable` (the monolith's own errors, naming the product) when a line cannot be had;
- `release {"reference"}`: gives that reservation back once (200; again: 200, nothing moves); 404
  `reservation_not_found` when nothing was reserved under it. A released reference is never reserved again.

Past the stock cutover (the monolith's PRODUCT_STOCK_OWNER=service) `reserve` answers 503
`stock_owned_by_service` and takes nothing; `release` still gives back reservations made here before it.

Drills may set INTERNAL_STOCK_FAULT_RATE (0..1, only with DEBUG on): that share of calls is answered 503
before anything is done. Reservations are the StockMovement rows (reason `reservation`/`release`) carrying
the reference; calls for one reference are serialized by a transaction-scoped advisory lock (PostgreSQL;
SQLite serializes writers).
"""

from __future__ import annotations

import random

from django.conf import settings
from django.db import connection, transaction
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from chassis.fields import IdField
from chassis.internal_auth import InternalAPIView
from legacy_monolith.core.errors import ApplicationError

from .models import StockMovement
from .services import stock_release, stock_reserve

R = StockMovement.Reason


class LineInput(serializers.Serializer):
    product_id = IdField()
    quantity = serializers.IntegerField(min_value=1, max_value=1_000_000)


class ReserveInput(serializers.Serializer):
    reference = serializers.RegexField(r"^[A-Za-z0-9._:-]{1,64}$")
    lines = LineInput(many=True, allow_empty=False, max_length=500)


class ReleaseInput(serializers.Serializer):
    reference = serializers.RegexField(r"^[A-Za-z0-9._:-]{1,64}$")


def _lock_reference(reference: str) -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"stock:{reference}"])


def _reservation(reference: str) -> dict:
    moves = StockMovement.objects.filter(reference=reference, reason=R.RESERVATION).order_by("product_id")
    released = StockMovement.objects.filter(reference=reference, reason=R.RELEASE).exists()
    return {
        "reference": reference,
        "status": "released" if released else "reserved",
        "lines": [{"product_id": m.product_id, "quantity": -m.delta} for m in moves],
    }


def _injected_fault() -> None:
    """The drills' fault knob (INTERNAL_STOCK_FAULT_RATE, honoured only with DEBUG on): a share of calls
    answered 503 before anything is done, so the caller's retry is always safe."""
    rate = getattr(settings, "INTERNAL_STOCK_FAULT_RATE", 0.0)
    if rate and settings.DEBUG and random.random() < rate:
        raise ApplicationError("stock_fault_injected", "Injected stock fault (drill knob)", status=503)


def _valid(serializer_class, request) -> dict:
    data = serializer_class(data=request.data)
    data.is_valid(raise_exception=True)
    return data.validated_data


class StockReserveApi(InternalAPIView):
    @extend_schema(exclude=True)  # internal: not part of the public API
    def post(self, request):
        _injected_fault()
        data = _valid(ReserveInput, request)
        if settings.PRODUCT_STOCK_OWNER == "service":
            # Past the stock cutover a reservation here would take stock the Product service also sells:
            # a saga still pointed at the monolith is answered 503 (it retries) until it is switched too.
            raise ApplicationError(
                "stock_owned_by_service",
                "The Product service owns stock (PRODUCT_STOCK_OWNER=service): reserve there",
                status=503,
            )
        reference = data["reference"]
        with transaction.atomic():
            _lock_reference(reference)
            if StockMovement.objects.filter(
                reference=reference, reason__in=[R.RESERVATION, R.RELEASE]
            ).exists():
                return Response(_reservation(reference))
            stock_reserve(
                lines=[(line["product_id"], line["quantity"]) for line in data["lines"]], reference=reference
            )
        return Response(_reservation(reference), status=201)


class StockReleaseApi(InternalAPIView):
    @extend_schema(exclude=True)  # internal: not part of the public API
    def post(self, request):
        _injected_fault()
        reference = _valid(ReleaseInput, request)["reference"]
        with transaction.atomic():
            _lock_reference(reference)
            reservation = _reservation(reference)
            if not reservation["lines"]:
                raise ApplicationError(
                    "reservation_not_found", f"Reservation {reference} does not exist",
                    extra={"reference": reference}, status=404,
                )  # fmt: skip
            if reservation["status"] == "reserved":
                stock_release(
                    lines=[(line["product_id"], line["quantity"]) for line in reservation["lines"]],
                    reference=reference,
                )
        return Response(_reservation(reference))
