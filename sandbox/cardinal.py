"""`cardinal`: a Stripe-like gateway. Integer minor units, snake_case, `Authorization: Bearer <key>`.

POST /cardinal/v1/tokens                     {"card": {number, exp_month, exp_year, cvc, name?}}
POST /cardinal/v1/charges                    {amount: 1999, currency: "EUR", token, capture?, metadata?}
POST /cardinal/v1/charges/<id>/capture       {amount?}
POST /cardinal/v1/charges/<id>/refunds       {amount?, reason?, metadata?}
POST /cardinal/v1/charges/<id>/cancel        release an uncaptured authorization (status "canceled")
GET  /cardinal/v1/charges/<id>               GET /cardinal/v1/refunds/<id>
GET  /cardinal/v1/idempotency_keys/<key>     what the request with that key did, and its resource now
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request

from .state import Charge, Fault, Gateway, GatewayError, Refund
from .web import currency, json_body, optional_str, required_str, serve

_ERRORS = {
    "invalid_number": (400, "card_error"),
    "invalid_expiry_month": (400, "card_error"),
    "invalid_expiry_year": (400, "card_error"),
    "expired_card": (400, "card_error"),
    "invalid_cvc": (400, "card_error"),
    "malformed_request": (400, "invalid_request_error"),
    "invalid_request": (400, "invalid_request_error"),
    "token_unknown": (400, "invalid_request_error"),
    "amount_too_large": (400, "invalid_request_error"),
    "not_found": (404, "invalid_request_error"),
    "not_capturable": (409, "invalid_request_error"),
    "not_refundable": (409, "invalid_request_error"),
    "not_voidable": (409, "invalid_request_error"),
    "idempotency_conflict": (409, "idempotency_error"),
    "unauthorized": (401, "authentication_error"),
    "unavailable": (503, "api_error"),
}
_STATUSES = {
    "authorized": "authorized",
    "declined": "declined",
    "captured": "succeeded",
    "voided": "canceled",
}


class Cardinal(Gateway):
    name = "cardinal"
    prefixes = {"token": "tok_", "charge": "ch_", "refund": "re_", "event": "evt_"}

    def render_charge(self, charge: Charge) -> dict:
        return {
            "id": charge.id,
            "object": "charge",
            "amount": charge.amount,
            "amount_captured": charge.amount_captured,
            "amount_refunded": charge.amount_refunded,
            "currency": charge.currency.lower(),
            "status": _STATUSES[charge.status],
            "captured": charge.status == "captured",
            "refunded": charge.amount_captured > 0 and charge.amount_refunded == charge.amount_captured,
            "decline_code": charge.decline_code,
            "token": charge.card.token,
            "card": {
                "brand": charge.card.facts.brand,
                "last4": charge.card.facts.last4,
                "country": charge.card.facts.country,
            },
            "metadata": charge.metadata,
            "created": charge.created,
            "refunds": [self.render_refund(self.refunds[r]) for r in charge.refund_ids],
        }

    def render_refund(self, refund: Refund) -> dict:
        return {
            "id": refund.id,
            "object": "refund",
            "charge": refund.charge_id,
            "amount": refund.amount,
            "currency": refund.currency.lower(),
            "status": refund.status,
            "reason": refund.reason,
            "metadata": {"reference": refund.reference} if refund.reference else {},
            "created": refund.created,
        }

    def render_error(self, error: GatewayError) -> tuple[int, dict]:
        status, kind = _ERRORS.get(error.code, (400, "invalid_request_error"))
        return status, {
            "error": {"type": kind, "code": error.code, "message": error.message, **error.details}
        }


def _amount(value: Any, *, required: bool) -> int | None:
    if value is None and not required:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise GatewayError("invalid_request", "amount must be a positive integer in minor units")
    return value


def _metadata(body: dict) -> dict:
    value = body.get("metadata") or {}
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise GatewayError("invalid_request", "metadata must be an object of strings")
    return value


def blueprint(gateway: Cardinal, prefix: str = "cardinal") -> Blueprint:
    bp = Blueprint(prefix, __name__, url_prefix=f"/{prefix}")

    def run(operation: str, action):
        header = request.headers.get("Authorization", "")
        key = header[7:] if header.startswith("Bearer ") else None
        return serve(gateway, operation, key, action)

    @bp.post("/v1/tokens")
    def tokenize():
        def action(fault: Fault):
            card = json_body().get("card")
            if not isinstance(card, dict):
                raise GatewayError("invalid_request", "card must be an object")
            token = gateway.tokenize(
                number=card.get("number"),
                exp_month=card.get("exp_month"),
                exp_year=card.get("exp_year"),
                cvc=card.get("cvc"),
                holder=optional_str(card, "name"),
            )
            facts = token.facts
            return (
                201,
                {
                    "id": token.token,
                    "object": "token",
                    "card": {
                        "brand": facts.brand,
                        "bin": facts.bin,
                        "last4": facts.last4,
                        "country": facts.country,
                        "exp_month": facts.exp_month,
                        "exp_year": facts.exp_year,
                    },
                    "created": token.created,
                },
                None,
            )

        return run("tokenize", action)

    @bp.post("/v1/charges")
    def create_charge():
        def action(fault: Fault):
            body = json_body()
            metadata = _metadata(body)
            charge = gateway.authorize(
                token=required_str(body, "token"),
                amount=_amount(body.get("amount"), required=True),
                currency=currency(body.get("currency")),
                reference=metadata.get("reference", ""),
                metadata=metadata,
                fault=fault,
            )
            if body.get("capture") is True and charge.status == "authorized":
                gateway.capture(charge_id=charge.id, amount=None)
            return 201, gateway.render_charge(charge), ("charge", charge.id)

        return run("authorize", action)

    @bp.post("/v1/charges/<charge_id>/capture")
    def capture(charge_id: str):
        def action(fault: Fault):
            body = request.get_json(silent=True) or {}
            if not isinstance(body, dict):
                raise GatewayError("malformed_request", "The body must be a JSON object")
            charge = gateway.capture(charge_id=charge_id, amount=_amount(body.get("amount"), required=False))
            return 200, gateway.render_charge(charge), ("charge", charge.id)

        return run("capture", action)

    @bp.post("/v1/charges/<charge_id>/cancel")
    def cancel(charge_id: str):
        def action(fault: Fault):
            charge = gateway.void(charge_id=charge_id)
            return 200, gateway.render_charge(charge), ("charge", charge.id)

        return run("void", action)

    @bp.post("/v1/charges/<charge_id>/refunds")
    def refund(charge_id: str):
        def action(fault: Fault):
            body = request.get_json(silent=True) or {}
            if not isinstance(body, dict):
                raise GatewayError("malformed_request", "The body must be a JSON object")
            refund = gateway.refund(
                charge_id=charge_id,
                amount=_amount(body.get("amount"), required=False),
                reason=optional_str(body, "reason"),
                reference=_metadata(body).get("reference", ""),
            )
            return 201, gateway.render_refund(refund), ("refund", refund.id)

        return run("refund", action)

    @bp.get("/v1/charges/<charge_id>")
    def get_charge(charge_id: str):
        return run("status", lambda fault: (200, gateway.render_charge(gateway.get_charge(charge_id)), None))

    @bp.get("/v1/refunds/<refund_id>")
    def get_refund(refund_id: str):
        return run("status", lambda fault: (200, gateway.render_refund(gateway.get_refund(refund_id)), None))

    @bp.get("/v1/idempotency_keys/<path:key>")
    def by_idempotency_key(key: str):
        def action(fault: Fault):
            record = gateway.lookup_key(key)
            body = {
                "object": "idempotency_key",
                "key": key,
                "response_status": record.status,
                "resource": gateway.render_resource(record.resource),
            }
            return 200, body, None

        return run("status", action)

    return bp
