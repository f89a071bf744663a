"""The stock participant over gRPC (ORDER_STOCK_TRANSPORT=grpc): the Product service's StockService
(contracts/proto/techstore/stock/v1), the same contract and StockOutcome as HttpStock.

The call's deadline is what is left of the saga step's (Saga.step_deadline, ORDER_SAGA_STEP_TIMEOUT_SECONDS
per attempt), so the Product service stops working on a call the saga no longer waits for; retries are
gRPC's own (chassis.grpc_client: UNAVAILABLE only, backoff with jitter, within that deadline). Answers map as
HttpStock's: a refusal (FAILED_PRECONDITION out_of_stock / reservation_conflict, INVALID_ARGUMENT) is
`refused` with the REST error's code and extra; NOT_FOUND on release is `released`; unreachable, timed out,
a server error or refused credentials is ParticipantUnavailable (the saga retries the step)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import grpc
from django.conf import settings

from chassis.grpc_client import call_metadata, error_reason, internal_channel
from contracts.rpc.techstore.stock.v1 import stock_pb2, stock_pb2_grpc

from .payments import ParticipantUnavailable
from .stock import StockOutcome

SERVICE = stock_pb2.DESCRIPTOR.services_by_name["StockService"].full_name
MIN_TIMEOUT = 0.05  # seconds: below this a call cannot finish; the step is out of time
REFUSALS = {grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND}


def _timeout(deadline: datetime | None) -> float:
    if deadline is None:
        return settings.ORDER_PARTICIPANT_READ_TIMEOUT
    left = (deadline - datetime.now(UTC)).total_seconds()
    if left < MIN_TIMEOUT:
        raise ParticipantUnavailable("product service stock: the saga step's deadline has passed")
    return left


def _extra(metadata: dict[str, str]) -> dict:
    """The REST error's `extra` back from ErrorInfo metadata (values that were not strings are JSON)."""
    extra = {}
    for key, value in metadata.items():
        try:
            extra[key] = json.loads(value)
        except ValueError:
            extra[key] = value
    return extra


class GrpcStock:
    """The Product service's StockService at `target` (PRODUCT_GRPC_TARGET)."""

    owner = "product service"

    def __init__(self, target: str):
        channel = internal_channel(target, services=[SERVICE], mutual=getattr(settings, "INTERNAL_TLS", None))
        self.target, self.stub = target, stock_pb2_grpc.StockServiceStub(channel)

    def _call(self, method, request, what: str, deadline: datetime | None) -> grpc.RpcError | None:
        """None when the call succeeded, the error of a refusal; anything else is ParticipantUnavailable."""
        try:
            method(request, timeout=_timeout(deadline), metadata=call_metadata())
            return None
        except grpc.RpcError as error:
            code = error.code()
            if code not in REFUSALS:
                raise ParticipantUnavailable(
                    f"product service stock {what} ({self.target}): {code.name}: {error.details()}"[:300]
                ) from None
            return error

    def reserve(self, *, reference: str, lines: list[dict], deadline: datetime | None = None) -> StockOutcome:
        request = stock_pb2.ReserveRequest(
            reference=reference, lines=[stock_pb2.StockLine(**line) for line in lines]
        )
        error = self._call(self.stub.Reserve, request, "reserve", deadline)
        if error is None:
            return StockOutcome("reserved")
        reason, metadata = error_reason(error)
        return StockOutcome("refused", reason, error.details() or "", _extra(metadata))

    def release(self, *, reference: str, deadline: datetime | None = None) -> StockOutcome:
        error = self._call(
            self.stub.Release, stock_pb2.ReleaseRequest(reference=reference), "release", deadline
        )
        if error is None or error.code() == grpc.StatusCode.NOT_FOUND:
            return StockOutcome("released")  # released now, earlier, or never reserved: nothing held
        reason, metadata = error_reason(error)
        return StockOutcome("refused", reason, error.details() or "", _extra(metadata))
