"""Client of `northpay` (Adyen-like: decimal strings, camelCase, upper-case states, `X-API-Key`)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import quote

from .base import (
    CardDetails,
    CardRejected,
    CardToken,
    ChargeResult,
    GatewayClient,
    GatewayEvent,
    GatewayRejected,
    GatewayUnavailable,
    InvalidEvent,
    RefundResult,
)

_STATES = {
    "AUTHORISED": "authorized",
    "REFUSED": "declined",
    "CAPTURED": "captured",
    "PARTIALLY_REFUNDED": "captured",
    "REFUNDED": "captured",
}
# northpay speaks in refusal sentences; the monolith stores stable decline codes.
REFUSAL_CODES = {
    "Refused": "card_declined",
    "Not enough balance": "insufficient_funds",
    "Do Not Honor": "do_not_honor",
}
CARD_ERROR_CODES = {
    "CARD_NUMBER_INVALID": "invalid_number",
    "CARD_EXPIRED": "expired_card",
    "CVC_INVALID": "invalid_cvc",
    "EXPIRY_INVALID": "invalid_expiry",
}
BRANDS = {"VISA": "visa", "MC": "mastercard", "MASTERCARD": "mastercard", "AMEX": "amex"}


def _amount(value: Decimal) -> str:
    return f"{value:.2f}"


class NorthpayClient(GatewayClient):
    name = "northpay"

    def _auth_headers(self) -> dict[str, str]:
        return {"X-API-Key": self.api_key}

    def tokenize(self, card: CardDetails) -> CardToken:
        status, body = self.request(
            "POST",
            "/api/v2/tokens",
            json={
                "cardNumber": card.digits,
                "expiryMonth": f"{card.exp_month:02d}",
                "expiryYear": str(card.exp_year),
                "cvc": card.cvc,
                "holderName": card.holder,
            },
        )
        if status >= 400:
            code = str(body.get("errorCode", ""))
            raise CardRejected(
                CARD_ERROR_CODES.get(code, code.lower() or "card_rejected"), body.get("message", "")
            )
        summary = body.get("cardSummary") or {}
        try:
            brand = str(summary["brand"])
            return CardToken(
                token=body["paymentToken"],
                brand=BRANDS.get(brand, brand.lower()),
                bin=summary["bin"],
                last4=summary["lastFour"],
                country=summary["issuerCountry"],
            )
        except KeyError as exc:
            raise GatewayUnavailable(f"northpay token answer lacks {exc}") from exc

    def _authorize(self, token, amount, currency, reference, idempotency_key) -> ChargeResult:
        status, body = self.request(
            "POST",
            "/api/v2/payments",
            json={
                "value": _amount(amount),
                "currencyCode": currency,
                "paymentToken": token,
                "merchantReference": reference,
            },
            idempotency_key=idempotency_key,
        )
        return self._payment(status, body)

    def _capture(self, charge_ref, amount, currency, idempotency_key) -> ChargeResult:
        status, body = self.request(
            "POST",
            f"/api/v2/payments/{quote(charge_ref, safe='')}/captures",
            json={"value": _amount(amount)},
            idempotency_key=idempotency_key,
        )
        return self._payment(status, body)

    def _refund(self, charge_ref, amount, currency, reference, reason, idempotency_key) -> RefundResult:
        status, body = self.request(
            "POST",
            f"/api/v2/payments/{quote(charge_ref, safe='')}/refunds",
            json={"value": _amount(amount), "merchantReference": reference, "reason": reason},
            idempotency_key=idempotency_key,
        )
        if status >= 400:
            raise _rejected(body)
        return _refund_result(body)

    def status(self, *, charge_ref: str) -> ChargeResult:
        return self._payment(*self.request("GET", f"/api/v2/payments/{quote(charge_ref, safe='')}"))

    def lookup(self, *, idempotency_key: str) -> ChargeResult | RefundResult | None:
        status, body = self.request("GET", "/api/v2/lookup", params={"idempotencyKey": idempotency_key})
        if status == 404:
            return None
        if status >= 400:
            raise _rejected(body)
        if body.get("resourceType") == "PAYMENT" and body.get("payment"):
            return _payment_result(body["payment"])
        if body.get("resourceType") == "REFUND" and body.get("refund"):
            return _refund_result(body["refund"])
        return None

    def parse_event(self, payload: dict[str, Any]) -> GatewayEvent:
        data = payload.get("data")
        if not isinstance(data, dict) or "transactionId" not in data:
            raise InvalidEvent("northpay events carry a payment or a refund in data")
        return GatewayEvent(
            id=payload["id"],
            type=payload["type"],
            charge_ref=str(data["transactionId"]),
            refund_ref=str(data.get("refundId", "")),
            refund_reference=str(data.get("merchantReference", "")) if "refundId" in data else "",
        )

    def _payment(self, status: int, body: dict) -> ChargeResult:
        if status >= 400:
            raise _rejected(body)
        return _payment_result(body)


def _rejected(body: dict) -> GatewayRejected:
    code = str(body.get("errorCode", "REJECTED"))
    return GatewayRejected(
        code.lower(),
        str(body.get("message", "northpay refused the request")),
        idempotency_conflict=code == "IDEMPOTENCY_KEY_CONFLICT",
    )


def _payment_result(body: dict) -> ChargeResult:
    try:
        status = _STATES[body["state"]]
        reason = body.get("refusalReason") or ""
        return ChargeResult(
            ref=body["transactionId"],
            status=status,
            decline_code=REFUSAL_CODES.get(reason, "card_declined") if status == "declined" else "",
            message=reason,
        )
    except KeyError as exc:
        raise GatewayUnavailable(f"northpay payment answer lacks or garbles {exc}") from exc


def _refund_result(body: dict) -> RefundResult:
    try:
        return RefundResult(
            ref=body["refundId"],
            charge_ref=body["transactionId"],
            status="succeeded" if body["state"] == "REFUNDED" else "pending",
            amount=Decimal(body["value"]),
        )
    except (KeyError, InvalidOperation, TypeError) as exc:
        raise GatewayUnavailable(f"northpay refund answer lacks or garbles {exc}") from exc
