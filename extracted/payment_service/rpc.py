"""The Payment service's gRPC PaymentService (contracts/proto/techstore/payment/v1/payment.proto), served by
`python -m extracted.payment_service grpc`: the saga's authorize and status calls.

Authorize does what POST /internal/v1/payments with `capture: false` does (services.charges.payment_submit:
one pending payment per idempotency key, decided by the worker) and answers the status document at once;
Status reads it again, as GET /internal/v1/payments/<id>. The chassis wrapper checks the token, the caller's
certificate (the Order service only) and the protovalidate rules, and maps the errors to standard codes.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from chassis.grpc_server import Registration, internal_method
from contracts.rpc.techstore.payment.v1 import payment_pb2, payment_pb2_grpc

from .apis.internal import _payment_or_404, status_document
from .errors import ApplicationError
from .services.charges import ChargeRequest, payment_submit

SERVICE_NAME = payment_pb2.DESCRIPTOR.services_by_name["PaymentService"].full_name
# The saga's payment participant; the monolith's checkout charges through its own ACL over REST.
PAYMENT_CALLERS = ("order_service",)
FIELDS = tuple(field.name for field in payment_pb2.Payment.DESCRIPTOR.fields)


def payment_message(payment) -> payment_pb2.Payment:
    document = status_document(payment)
    return payment_pb2.Payment(**{name: document[name] for name in FIELDS if document[name] is not None})


def _deadline(raw: str) -> dt.datetime | None:
    if not raw:
        return None
    try:
        parsed = dt.datetime.fromisoformat(raw)
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise ApplicationError(
            "validation_error",
            "deadline must be an RFC 3339 date-time with its offset",
            extra={"fields": {"deadline": ["invalid"]}},
        )
    return parsed


class PaymentServicer(payment_pb2_grpc.PaymentServiceServicer):
    @internal_method(callers=PAYMENT_CALLERS)
    def Authorize(self, request, context):
        billing = request.billing
        payment, _created = payment_submit(
            ChargeRequest(
                order_number=request.order_number,
                user_id=request.user_id,
                amount=Decimal(request.amount),
                currency=request.currency,
                idempotency_key=request.idempotency_key,
                gateway=request.gateway or None,
                card_id=request.card_id,
                capture=False,
                shipping_country=request.shipping_country,
                billing_name=billing.name,
                billing_address=dict(billing.address) or None,
                client_ip=request.client_ip or None,
                deadline=_deadline(request.deadline),
            )
        )
        return payment_message(payment)

    @internal_method(callers=PAYMENT_CALLERS)
    def Status(self, request, context):
        return payment_message(_payment_or_404(request.payment_id))


def registrations() -> list[Registration]:
    """What `grpc` serves (besides the health service)."""
    return [
        Registration(SERVICE_NAME, payment_pb2_grpc.add_PaymentServiceServicer_to_server, PaymentServicer())
    ]
