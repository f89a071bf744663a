"""Adapter of `northpay` (Adyen-like: decimal strings, camelCase, upper-case states, `X-API-Key`)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import quote

from .port import (
    CardDetails,
    CardRejected,
    CardToken,
    ChargeResult,
    InvalidEvent,
    Provider,
    ProviderEvent,
    ProviderRejected,
    ProviderUnavailable,
    RefundResult,
)
from .transport import ProviderHttp

_STATES = {
    "AUTHORISED": "authorized",
    "REFUSED": "declined",
    "CAPTURED": "captured",
    "PARTIALLY_REFUNDED": "captured",
    "REFUNDED": "captured",
    "CANCELLED": "voided",
}
# northpay speaks in refusal sentences; payments carry stable decline codes.
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


def _value(amount: Decimal) -> str:
    return f"{amount:.2f}"


class Northpay(Provider):
    name = "northpay"

    def __init__(self, http: ProviderHttp, api_key: str):
        self.http = http
        self._headers = {"X-API-Key": api_key}

    def _call(self, method: str, path: str, **kwargs) -> tuple[int, dict]:
        return self.http.request(method, path, headers=self._headers, **kwargs)

    def tokenize(self, card: CardDetails) -> CardToken:
        status, body = self._call(
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
            raise ProviderUnavailable(f"northpay token answer lacks {exc}") from exc

    def _authorize(self, token, amount, currency, reference, idempotency_key) -> ChargeResult:
        body = {
            "value": _value(amount),
            "currencyCode": currency,
            "paymentToken": token,
            "merchantReference": reference,
        }
        return _payment(*self._call("POST", "/api/v2/payments", json=body, idempotency_key=idempotency_key))

    def _capture(self, charge_ref, amount, currency, idempotency_key) -> ChargeResult:
        path = f"/api/v2/payments/{quote(charge_ref, safe='')}/captures"
        body = {"value": _value(amount)}
        return _payment(*self._call("POST", path, json=body, idempotency_key=idempotency_key))

    def _void(self, charge_ref, idempotency_key) -> ChargeResult:
        path = f"/api/v2/payments/{quote(charge_ref, safe='')}/cancels"
        return _payment(*self._call("POST", path, json={}, idempotency_key=idempotency_key))

    def _refund(self, charge_ref, amount, currency, reference, reason, idempotency_key) -> RefundResult:
        path = f"/api/v2/payments/{quote(charge_ref, safe='')}/refunds"
        body = {"value": _value(amount), "merchantReference": reference, "reason": reason}
        status, answer = self._call("POST", path, json=body, idempotency_key=idempotency_key)
        if status >= 400:
            raise _rejected(status, answer)
        return _refund_result(answer)

    def status(self, *, charge_ref: str) -> ChargeResult:
        return _payment(*self._call("GET", f"/api/v2/payments/{quote(charge_ref, safe='')}"))

    def lookup(self, *, idempotency_key: str) -> ChargeResult | RefundResult | None:
        status, body = self._call("GET", "/api/v2/lookup", params={"idempotencyKey": idempotency_key})
        if status == 404:
            return None
        if status >= 400:
            raise _rejected(status, body)
        if body.get("resourceType") == "PAYMENT" and body.get("payment"):
            return _payment_result(body["payment"])
        if body.get("resourceType") == "REFUND" and body.get("refund"):
            return _refund_result(body["refund"])
        return None

    def parse_event(self, payload: dict[str, Any]) -> ProviderEvent:
        data = payload.get("data")
        if not isinstance(data, dict) or "transactionId" not in data:
            raise InvalidEvent("northpay events carry a payment or a refund in data")
        return ProviderEvent(
            id=payload["id"],
            type=payload["type"],
            charge_ref=str(data["transactionId"]),
            refund_ref=str(data.get("refundId", "")),
            refund_reference=str(data.get("merchantReference", "")) if "refundId" in data else "",
        )


def _rejected(status: int, body: dict) -> ProviderRejected:
    code = str(body.get("errorCode", "REJECTED"))
    return ProviderRejected(
        code.lower(),
        str(body.get("message", "northpay refused the request")),
        idempotency_conflict=code == "IDEMPOTENCY_KEY_CONFLICT",
        not_found=status == 404,
    )


def _payment(status: int, body: dict) -> ChargeResult:
    if status >= 400:
        raise _rejected(status, body)
    return _payment_result(body)


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
        raise ProviderUnavailable(f"northpay payment answer lacks or garbles {exc}") from exc


def _refund_result(body: dict) -> RefundResult:
    try:
        return RefundResult(
            ref=body["refundId"],
            charge_ref=body["transactionId"],
            status="succeeded" if body["state"] == "REFUNDED" else "pending",
            amount=Decimal(body["value"]),
        )
    except (KeyError, InvalidOperation, TypeError) as exc:
        raise ProviderUnavailable(f"northpay refund answer lacks or garbles {exc}") from exc
