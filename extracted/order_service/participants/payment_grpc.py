"""The `payment_service` adapter authorizing over gRPC (ORDER_PAYMENT_TRANSPORT=grpc): PaymentService
Authorize (the Payment service's payment_submit, as POST /internal/v1/payments), then Status every 50 ms while
its worker decides, for up to WAIT_SECONDS (payment_service.PaymentServicePayments' rule). Tokenize, capture,
void and refund stay REST. Retries are the channel's (chassis.grpc_client: UNAVAILABLE only, with backoff
and jitter, within ORDER_PARTICIPANT_READ_TIMEOUT per call); a refusal (INVALID_ARGUMENT,
FAILED_PRECONDITION, NOT_FOUND) is the answer REST's 4xx is, anything else ParticipantUnavailable."""

from __future__ import annotations

import grpc
from django.conf import settings

from chassis.grpc_client import call_metadata, error_reason, internal_channel
from contracts.rpc.techstore.payment.v1 import payment_pb2, payment_pb2_grpc

from .payment_service import PaymentServicePayments
from .payments import ParticipantUnavailable

SERVICE = payment_pb2.DESCRIPTOR.services_by_name["PaymentService"].full_name
REFUSALS = {grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND}
FIELDS = tuple(field.name for field in payment_pb2.Payment.DESCRIPTOR.fields)


def _as_document(payment: payment_pb2.Payment) -> dict:
    return {name: getattr(payment, name) for name in FIELDS}


class GrpcPaymentServicePayments(PaymentServicePayments):
    def __init__(self, target: str | None = None):
        self.target = target or settings.PAYMENT_GRPC_TARGET
        channel = internal_channel(
            self.target, services=[SERVICE], mutual=getattr(settings, "INTERNAL_TLS", None)
        )
        self.stub = payment_pb2_grpc.PaymentServiceStub(channel)

    def _call(self, method, request, what: str) -> tuple[int, dict]:
        """(202, the status document) or (400/404/409, {"code", "message"}) like the REST answer."""
        try:
            payment = method(
                request, timeout=settings.ORDER_PARTICIPANT_READ_TIMEOUT, metadata=call_metadata()
            )
        except grpc.RpcError as error:
            code = error.code()
            if code not in REFUSALS:
                raise ParticipantUnavailable(
                    f"payment service {what} ({self.target}): {code.name}: {error.details()}"[:300]
                ) from None
            status = {grpc.StatusCode.NOT_FOUND: 404, grpc.StatusCode.FAILED_PRECONDITION: 409}.get(code, 400)
            return status, {"code": error_reason(error)[0], "message": error.details() or ""}
        return 202, _as_document(payment)

    def _submit(self, charge: dict) -> tuple[int, dict]:
        billing = charge.get("billing") or {}
        request = payment_pb2.AuthorizeRequest(
            idempotency_key=charge["idempotency_key"],
            order_number=charge["order_number"],
            user_id=charge["user_id"],
            amount=charge["amount"],
            currency=charge["currency"],
            gateway=charge.get("gateway") or "",
            card_id=charge["card_id"],
            shipping_country=charge.get("shipping_country") or "",
            billing=payment_pb2.Billing(name=billing.get("name", ""), address=billing.get("address") or {}),
            client_ip=charge.get("client_ip") or "",
            deadline=charge.get("deadline") or "",
        )
        return self._call(self.stub.Authorize, request, "authorize")

    def _document(self, payment_id) -> dict:
        status, body = self._call(
            self.stub.Status, payment_pb2.StatusRequest(payment_id=int(payment_id)), "status"
        )
        if status != 202:
            raise ParticipantUnavailable(f"payment {payment_id}: status answered {body.get('code')}")
        return body
