"""`northpay`: an Adyen-like gateway. Decimal strings, camelCase, upper-case states, `X-API-Key: <key>`.

POST /northpay/api/v2/tokens                  {cardNumber, expiryMonth: "12", expiryYear: "2030", cvc,
                                              holderName?}
POST /northpay/api/v2/payments                {value: "19.99", currencyCode: "EUR", paymentToken,
                                              merchantReference?}
POST /northpay/api/v2/payments/<id>/captures  {value?}
POST /northpay/api/v2/payments/<id>/refunds   {value?, merchantReference?, reason?}  -> 202, state RECEIVED
POST /northpay/api/v2/payments/<id>/cancels   release an uncaptured authorization (state CANCELLED)
GET  /northpay/api/v2/payments/<id>           GET /northpay/api/v2/refunds/<id>
GET  /northpay/api/v2/lookup?idempotencyKey=K what the request with that key did, and its resource now
Refunds settle asynchronously (RECEIVED -> REFUNDED after `refund_settle_ms`), then `refund.succeeded`
goes out.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

from flask import Blueprint, request

from .state import Charge, Fault, Gateway, GatewayError, Refund, currency_exponent
from .web import currency, json_body, optional_str, required_str, serve

_ERRORS = {
    "invalid_number": (422, "CARD_NUMBER_INVALID", "validation"),
    "invalid_expiry_month": (422, "EXPIRY_INVALID", "validation"),
    "invalid_expiry_year": (422, "EXPIRY_INVALID", "validation"),
    "expired_card": (422, "CARD_EXPIRED", "validation"),
    "invalid_cvc": (422, "CVC_INVALID", "validation"),
    "malformed_request": (400, "MALFORMED_REQUEST", "validation"),
    "invalid_request": (422, "VALIDATION_FAILED", "validation"),
    "token_unknown": (422, "TOKEN_UNKNOWN", "validation"),
    "amount_too_large": (422, "VALUE_EXCEEDS_LIMIT", "validation"),
    "not_found": (404, "NOT_FOUND", "validation"),
    "not_capturable": (422, "NOT_CAPTURABLE", "state"),
    "not_refundable": (422, "NOT_REFUNDABLE", "state"),
    "not_voidable": (422, "NOT_CANCELLABLE", "state"),
    "idempotency_conflict": (422, "IDEMPOTENCY_KEY_CONFLICT", "validation"),
    "unauthorized": (401, "UNAUTHORISED", "security"),
    "unavailable": (503, "SERVICE_UNAVAILABLE", "internal"),
}
REFUSAL_REASONS = {
    "card_declined": "Refused",
    "insufficient_funds": "Not enough balance",
    "do_not_honor": "Do Not Honor",
}
_DECIMAL = re.compile(r"^\d{1,10}(\.\d{1,2})?$")


def _iso(timestamp: int) -> str:
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).isoformat().replace("+00:00", "Z")


def to_decimal_string(minor: int, currency_code: str) -> str:
    exponent = currency_exponent(currency_code)
    return str((Decimal(minor) / (10**exponent)).quantize(Decimal(1).scaleb(-exponent)))


def to_minor(value: Any, currency_code: str, *, required: bool) -> int | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or not _DECIMAL.match(value):
        raise GatewayError("invalid_request", 'value must be a decimal string such as "19.99"')
    exponent = currency_exponent(currency_code)
    minor = Decimal(value).scaleb(exponent)
    if minor != minor.to_integral_value() or minor <= 0:
        raise GatewayError("invalid_request", f"value must be positive with at most {exponent} decimals")
    return int(minor)


class Northpay(Gateway):
    name = "northpay"
    prefixes = {"token": "NPT", "charge": "NP", "refund": "NPR", "event": "NPE"}
    refunds_settle_async = True

    def render_charge(self, charge: Charge) -> dict:
        cur = charge.currency
        if charge.status == "declined":
            state = "REFUSED"
        elif charge.status == "authorized":
            state = "AUTHORISED"
        elif charge.status == "voided":
            state = "CANCELLED"
        elif charge.amount_refunded == 0:
            state = "CAPTURED"
        else:
            state = "REFUNDED" if charge.amount_refunded >= charge.amount_captured else "PARTIALLY_REFUNDED"
        return {
            "transactionId": charge.id,
            "state": state,
            "refusalReason": REFUSAL_REASONS.get(charge.decline_code or ""),
            "value": to_decimal_string(charge.amount, cur),
            "currencyCode": cur,
            "capturedValue": to_decimal_string(charge.amount_captured, cur),
            "refundedValue": to_decimal_string(charge.amount_refunded, cur),
            "merchantReference": charge.reference,
            "paymentToken": charge.card.token,
            "card": {
                "brand": charge.card.facts.brand.upper(),
                "lastFour": charge.card.facts.last4,
                "issuerCountry": charge.card.facts.country,
            },
            "createdAt": _iso(charge.created),
            "refunds": [self.render_refund(self.refunds[r]) for r in charge.refund_ids],
        }

    def render_refund(self, refund: Refund) -> dict:
        return {
            "refundId": refund.id,
            "transactionId": refund.charge_id,
            "state": "RECEIVED" if refund.status == "pending" else "REFUNDED",
            "value": to_decimal_string(refund.amount, refund.currency),
            "currencyCode": refund.currency,
            "merchantReference": refund.reference,
            "reason": refund.reason,
            "createdAt": _iso(refund.created),
        }

    def render_error(self, error: GatewayError) -> tuple[int, dict]:
        status, code, kind = _ERRORS.get(error.code, (422, "VALIDATION_FAILED", "validation"))
        body = {"status": status, "errorCode": code, "message": error.message, "errorType": kind}
        if "limit" in error.details:
            body["limit"] = error.details["limit"]
        return status, body


def _expiry_part(value: Any) -> Any:
    """northpay sends expiry as digit strings ("03", "2030"); anything else is left for the card check."""
    return int(value) if isinstance(value, str) and value.isdigit() else None


def blueprint(gateway: Northpay, prefix: str = "northpay") -> Blueprint:
    bp = Blueprint(prefix, __name__, url_prefix=f"/{prefix}")

    def run(operation: str, action):
        return serve(gateway, operation, request.headers.get("X-API-Key"), action)

    def optional_body() -> dict:
        body = request.get_json(silent=True) or {}
        if not isinstance(body, dict):
            raise GatewayError("malformed_request", "The body must be a JSON object")
        return body

    @bp.post("/api/v2/tokens")
    def tokenize():
        def action(fault: Fault):
            body = json_body()
            card = gateway.tokenize(
                number=body.get("cardNumber"),
                exp_month=_expiry_part(body.get("expiryMonth")),
                exp_year=_expiry_part(body.get("expiryYear")),
                cvc=body.get("cvc"),
                holder=optional_str(body, "holderName"),
            )
            facts = card.facts
            summary = {
                "brand": facts.brand.upper(),
                "bin": facts.bin,
                "lastFour": facts.last4,
                "issuerCountry": facts.country,
                "expiry": f"{facts.exp_month:02d}/{facts.exp_year}",
            }
            return 200, {"paymentToken": card.token, "cardSummary": summary}, None

        return run("tokenize", action)

    @bp.post("/api/v2/payments")
    def authorize():
        def action(fault: Fault):
            body = json_body()
            cur = currency(body.get("currencyCode"))
            reference = optional_str(body, "merchantReference")
            charge = gateway.authorize(
                token=required_str(body, "paymentToken"),
                amount=to_minor(body.get("value"), cur, required=True),
                currency=cur,
                reference=reference,
                metadata={},
                fault=fault,
            )
            return 200, gateway.render_charge(charge), ("charge", charge.id)

        return run("authorize", action)

    @bp.post("/api/v2/payments/<transaction_id>/captures")
    def capture(transaction_id: str):
        def action(fault: Fault):
            charge = gateway.get_charge(transaction_id)
            value = to_minor(optional_body().get("value"), charge.currency, required=False)
            charge = gateway.capture(charge_id=transaction_id, amount=value)
            return 200, gateway.render_charge(charge), ("charge", charge.id)

        return run("capture", action)

    @bp.post("/api/v2/payments/<transaction_id>/cancels")
    def cancel(transaction_id: str):
        def action(fault: Fault):
            charge = gateway.void(charge_id=transaction_id)
            return 200, gateway.render_charge(charge), ("charge", charge.id)

        return run("void", action)

    @bp.post("/api/v2/payments/<transaction_id>/refunds")
    def refund(transaction_id: str):
        def action(fault: Fault):
            body = optional_body()
            charge = gateway.get_charge(transaction_id)
            refund = gateway.refund(
                charge_id=transaction_id,
                amount=to_minor(body.get("value"), charge.currency, required=False),
                reason=optional_str(body, "reason"),
                reference=optional_str(body, "merchantReference"),
            )
            return 202, gateway.render_refund(refund), ("refund", refund.id)

        return run("refund", action)

    @bp.get("/api/v2/payments/<transaction_id>")
    def get_payment(transaction_id: str):
        return run(
            "status", lambda fault: (200, gateway.render_charge(gateway.get_charge(transaction_id)), None)
        )

    @bp.get("/api/v2/refunds/<refund_id>")
    def get_refund(refund_id: str):
        return run("status", lambda fault: (200, gateway.render_refund(gateway.get_refund(refund_id)), None))

    @bp.get("/api/v2/lookup")
    def lookup():
        def action(fault: Fault):
            key = request.args.get("idempotencyKey", "")
            if not key:
                raise GatewayError("invalid_request", "idempotencyKey is required")
            record = gateway.lookup_key(key)
            kind = record.resource[0] if record.resource else None
            body = {
                "idempotencyKey": key,
                "originalStatus": record.status,
                "resourceType": {"charge": "PAYMENT", "refund": "REFUND", None: None}[kind],
                "payment": gateway.render_resource(record.resource) if kind == "charge" else None,
                "refund": gateway.render_resource(record.resource) if kind == "refund" else None,
            }
            return 200, body, None

        return run("status", action)

    return bp
