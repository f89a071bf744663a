"""Adapter of `cardinal` (Stripe-like: integer minor units, snake_case, `Authorization: Bearer`)."""

from __future__ import annotations

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
    from_minor,
    to_minor,
)
from .transport import ProviderHttp

_CHARGE_STATUSES = {
    "authorized": "authorized",
    "succeeded": "captured",
    "declined": "declined",
    "canceled": "voided",
}


class Cardinal(Provider):
    name = "cardinal"

    def __init__(self, http: ProviderHttp, api_key: str):
        self.http = http
        self._headers = {"Authorization": f"Bearer {api_key}"}

    def _call(self, method: str, path: str, **kwargs) -> tuple[int, dict]:
        return self.http.request(method, path, headers=self._headers, **kwargs)

    def tokenize(self, card: CardDetails) -> CardToken:
        status, body = self._call(
            "POST",
            "/v1/tokens",
            json={
                "card": {
                    "number": card.digits,
                    "exp_month": card.exp_month,
                    "exp_year": card.exp_year,
                    "cvc": card.cvc,
                    "name": card.holder,
                }
            },
        )
        if status >= 400:
            error = _error(body)
            raise CardRejected(error.get("code", "card_rejected"), error.get("message", "Card refused"))
        facts = body.get("card") or {}
        try:
            return CardToken(body["id"], facts["brand"], facts["bin"], facts["last4"], facts["country"])
        except KeyError as exc:
            raise ProviderUnavailable(f"cardinal token answer lacks {exc}") from exc

    def _authorize(self, token, amount, currency, reference, idempotency_key) -> ChargeResult:
        body = {
            "amount": to_minor(amount, currency),
            "currency": currency,
            "token": token,
            "metadata": {"reference": reference},
        }
        return _charge(*self._call("POST", "/v1/charges", json=body, idempotency_key=idempotency_key))

    def _capture(self, charge_ref, amount, currency, idempotency_key) -> ChargeResult:
        path = f"/v1/charges/{quote(charge_ref, safe='')}/capture"
        body = {"amount": to_minor(amount, currency)}
        return _charge(*self._call("POST", path, json=body, idempotency_key=idempotency_key))

    def _void(self, charge_ref, idempotency_key) -> ChargeResult:
        path = f"/v1/charges/{quote(charge_ref, safe='')}/cancel"
        return _charge(*self._call("POST", path, json={}, idempotency_key=idempotency_key))

    def _refund(self, charge_ref, amount, currency, reference, reason, idempotency_key) -> RefundResult:
        body = {"amount": to_minor(amount, currency), "reason": reason, "metadata": {"reference": reference}}
        path = f"/v1/charges/{quote(charge_ref, safe='')}/refunds"
        status, answer = self._call("POST", path, json=body, idempotency_key=idempotency_key)
        if status >= 400:
            raise _rejected(status, answer)
        return _refund_result(answer)

    def status(self, *, charge_ref: str) -> ChargeResult:
        return _charge(*self._call("GET", f"/v1/charges/{quote(charge_ref, safe='')}"))

    def lookup(self, *, idempotency_key: str) -> ChargeResult | RefundResult | None:
        status, body = self._call("GET", f"/v1/idempotency_keys/{quote(idempotency_key, safe='')}")
        if status == 404 or not body.get("resource"):
            return None
        if status >= 400:
            raise _rejected(status, body)
        resource = body["resource"]
        return _refund_result(resource) if resource.get("object") == "refund" else _charge_result(resource)

    def parse_event(self, payload: dict[str, Any]) -> ProviderEvent:
        data = payload.get("data")
        if not isinstance(data, dict) or data.get("object") not in {"charge", "refund"}:
            raise InvalidEvent("cardinal events carry a charge or a refund in data")
        if data["object"] == "charge":
            return ProviderEvent(id=payload["id"], type=payload["type"], charge_ref=str(data.get("id", "")))
        return ProviderEvent(
            id=payload["id"],
            type=payload["type"],
            charge_ref=str(data.get("charge", "")),
            refund_ref=str(data.get("id", "")),
            refund_reference=str((data.get("metadata") or {}).get("reference", "")),
        )


def _error(body: dict) -> dict:
    error = body.get("error")
    return error if isinstance(error, dict) else {}


def _rejected(status: int, body: dict) -> ProviderRejected:
    error = _error(body)
    return ProviderRejected(
        error.get("code", "rejected"),
        error.get("message", "cardinal refused the request"),
        idempotency_conflict=error.get("type") == "idempotency_error",
        not_found=status == 404,
    )


def _charge(status: int, body: dict) -> ChargeResult:
    if status >= 400:
        raise _rejected(status, body)
    return _charge_result(body)


def _charge_result(body: dict) -> ChargeResult:
    try:
        status = _CHARGE_STATUSES[body["status"]]
        return ChargeResult(ref=body["id"], status=status, decline_code=body.get("decline_code") or "")
    except KeyError as exc:
        raise ProviderUnavailable(f"cardinal charge answer lacks or garbles {exc}") from exc


def _refund_result(body: dict) -> RefundResult:
    try:
        return RefundResult(
            ref=body["id"],
            charge_ref=body["charge"],
            status="succeeded" if body["status"] == "succeeded" else "pending",
            amount=from_minor(int(body["amount"]), str(body.get("currency", "EUR"))),
        )
    except (KeyError, ValueError, TypeError) as exc:
        raise ProviderUnavailable(f"cardinal refund answer lacks or garbles {exc}") from exc
