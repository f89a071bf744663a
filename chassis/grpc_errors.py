"""The errors of the internal gRPC calls (chassis.grpc_server answers them, chassis.grpc_client reads them):
the REST error's HTTP status mapped to the standard gRPC code, with a google.rpc.Status in the trailers
(`grpc-status-details-bin`) holding an ErrorInfo (reason = the REST error's `code`, metadata = its `extra`,
non-strings as JSON) and the typed details a method adds (a BadRequest for protovalidate violations)."""

from __future__ import annotations

import json
from collections.abc import Iterable

import grpc
from google.protobuf import any_pb2
from google.protobuf.message import Message
from google.rpc import error_details_pb2, status_pb2

from contracts.errors import ApplicationError

ERROR_DOMAIN = "strangler.internal"
STATUS_DETAILS_KEY = "grpc-status-details-bin"
# The REST side's HTTP statuses and the gRPC codes that say the same (the error's `code` goes along).
HTTP_TO_GRPC = {
    400: grpc.StatusCode.INVALID_ARGUMENT,
    401: grpc.StatusCode.UNAUTHENTICATED,
    403: grpc.StatusCode.PERMISSION_DENIED,
    404: grpc.StatusCode.NOT_FOUND,
    409: grpc.StatusCode.FAILED_PRECONDITION,
    413: grpc.StatusCode.RESOURCE_EXHAUSTED,
    429: grpc.StatusCode.RESOURCE_EXHAUSTED,
    503: grpc.StatusCode.UNAVAILABLE,
    504: grpc.StatusCode.DEADLINE_EXCEEDED,
}


class RpcAbort(Exception):
    """An answer other than OK, with the google.rpc.Status details it carries."""

    def __init__(self, code: grpc.StatusCode, reason: str, message: str, *, details: Iterable[Message] = ()):
        super().__init__(message)
        self.code, self.reason, self.message, self.details = code, reason, message, tuple(details)


def _status(abort: RpcAbort, metadata: dict[str, str]) -> status_pb2.Status:
    info = error_details_pb2.ErrorInfo(reason=abort.reason, domain=ERROR_DOMAIN, metadata=metadata)
    packed = []
    for detail in (info, *abort.details):
        holder = any_pb2.Any()
        holder.Pack(detail)
        packed.append(holder)
    return status_pb2.Status(code=abort.code.value[0], message=abort.message, details=packed)


def abort_for_error(exc: ApplicationError, details: Iterable[Message] = ()) -> RpcAbort:
    code = HTTP_TO_GRPC.get(exc.status_code, grpc.StatusCode.INTERNAL)
    abort = RpcAbort(code, exc.code, exc.message, details=details)
    abort.extra = exc.extra
    return abort


def bad_request(violations) -> RpcAbort:
    """INVALID_ARGUMENT naming every protovalidate violation (`lines[0].quantity`: rule id and message)."""
    fields = []
    for violation in violations:
        path = []
        for element in violation.proto.field.elements:
            name = str(element.field_name)
            subscript = element.subscript
            index = getattr(subscript, "value", None) if subscript is not None else None
            path.append(f"{name}[{index}]" if index is not None else name)
        fields.append(
            error_details_pb2.BadRequest.FieldViolation(
                field=".".join(path),
                description=f"{violation.proto.rule_id}: {violation.proto.message}",
                reason=str(violation.proto.rule_id),
            )
        )
    message = "; ".join(f"{f.field}: {f.description}" for f in fields)
    return RpcAbort(
        grpc.StatusCode.INVALID_ARGUMENT,
        "validation_error",
        message[:1000],
        details=[error_details_pb2.BadRequest(field_violations=fields)],
    )


def send_abort(context: grpc.ServicerContext, abort: RpcAbort) -> None:
    extra = getattr(abort, "extra", None) or {}
    metadata = {key: value if isinstance(value, str) else json.dumps(value) for key, value in extra.items()}
    status = _status(abort, metadata)
    context.set_trailing_metadata(((STATUS_DETAILS_KEY, status.SerializeToString()),))
    context.abort(abort.code, abort.message)


def status_details(error: grpc.RpcError) -> status_pb2.Status | None:
    """The google.rpc.Status a failed call carries (clients and tests read the reason and details)."""
    for key, value in error.trailing_metadata() or ():
        if key == STATUS_DETAILS_KEY:
            return status_pb2.Status.FromString(value)
    return None


def error_reason(error: grpc.RpcError) -> tuple[str, dict[str, str]]:
    """The ErrorInfo reason (the REST error's `code`) and metadata of a failed call, ("", {}) without one."""
    status = status_details(error)
    for holder in status.details if status else ():
        if holder.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            holder.Unpack(info)
            return info.reason, dict(info.metadata)
    return "", {}
