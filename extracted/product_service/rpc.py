"""The Product service's gRPC StockService (contracts/proto/techstore/stock/v1/stock.proto), served by
`python -m extracted.product_service grpc`.

Reserve and Release call the same service functions as POST /internal/v1/stock/reserve|release
(services.stock_reserve / stock_release), with the same allowed callers (api/internal.STOCK_CALLERS), so the
two paths cannot drift; the chassis wrapper checks the token, the caller's certificate and the protovalidate
rules, and maps the errors (out_of_stock -> FAILED_PRECONDITION with the short lines as an OutOfStock detail).
"""

from __future__ import annotations

from chassis.grpc_server import Registration, internal_method
from contracts.errors import ApplicationError
from contracts.rpc.techstore.stock.v1 import stock_pb2, stock_pb2_grpc
from extracted.product_service import selectors, services
from extracted.product_service.api.internal import STOCK_CALLERS, require_stock_owner, reservation_not_found
from extracted.product_service.store.port import OutOfStock, Reservation, StockLine

SERVICE_NAME = stock_pb2.DESCRIPTOR.services_by_name["StockService"].full_name


def _reservation(reservation: Reservation) -> stock_pb2.Reservation:
    return stock_pb2.Reservation(
        reference=reservation.reference,
        status=reservation.status,
        lines=[
            stock_pb2.StockLine(product_id=line.product_id, quantity=line.quantity)
            for line in reservation.lines
        ],
    )


def _outcome(reservation: Reservation) -> int:
    return stock_pb2.OUTCOME_NEW if reservation.created else stock_pb2.OUTCOME_REPLAY


def _stock_details(exc: ApplicationError) -> list:
    if not isinstance(exc, OutOfStock):
        return []
    lines = [
        stock_pb2.ShortLine(product_id=line.product_id, requested=line.requested, available=line.available)
        for line in exc.lines
    ]
    return [stock_pb2.OutOfStock(lines=lines)]


class StockServicer(stock_pb2_grpc.StockServiceServicer):
    @internal_method(callers=STOCK_CALLERS, details_for=_stock_details)
    def Reserve(self, request, context):
        if request.require_owner:
            require_stock_owner()
        lines = [StockLine(line.product_id, line.quantity) for line in request.lines]
        reservation = services.stock_reserve(reference=request.reference, lines=lines)
        return stock_pb2.ReserveResponse(outcome=_outcome(reservation), reservation=_reservation(reservation))

    @internal_method(callers=STOCK_CALLERS)
    def Release(self, request, context):
        reservation = services.stock_release(reference=request.reference, fence=request.fence)
        if reservation is None:
            raise reservation_not_found(request.reference)
        return stock_pb2.ReleaseResponse(outcome=_outcome(reservation), reservation=_reservation(reservation))

    @internal_method(callers=STOCK_CALLERS)
    def Query(self, request, context):
        levels = selectors.stock_levels(product_ids=list(request.product_ids))
        return stock_pb2.QueryResponse(
            levels=[
                stock_pb2.StockLevel(
                    product_id=level.product_id, found=level.found, active=level.active, stock=level.stock
                )
                for level in levels
            ]
        )


def registrations() -> list[Registration]:
    """What `grpc` serves (besides the health service)."""
    return [Registration(SERVICE_NAME, stock_pb2_grpc.add_StockServiceServicer_to_server, StockServicer())]
