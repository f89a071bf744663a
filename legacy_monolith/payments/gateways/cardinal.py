"""Client of `cardinal` (Stripe-like: integer minor units, `Authorization: Bearer`)."""

from __future__ import annotations

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
    from_minor,
    to_minor,
)

_CHARGE_STATUSES = {"authorized": "authorized", "succeeded": "captured", "declined": "declined"}


class CardinalClient(GatewayClient):
    name = "cardinal"

    def _auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}

    def tokenize(self, card: CardDetails) -> CardToken:
        status, body = self.request(
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
            raise GatewayUnavailable(f"cardinal token answer lacks {exc}") from exc

    def _authorize(self, token, amount, currency, reference, idempotency_key) -> ChargeResult:
        status, body = self.request(
            "POST",
            "/v1/charges",
            json={
                "amount": to_minor(amount, currency),
                "currency": currency,
                "token": token,
                "metadata": {"reference": reference},
            },
            idempotency_key=idempotency_key,
        )
        return self._charge(status, body)

    def _capture(self, charge_ref, amount, currency, idempotency_key) -> ChargeResult:
        status, body = self.request(
            "POST",
            f"/v1/charges/{quote(charge_ref, safe='')}/capture",
            json={"amount": to_minor(amount, currency)},
            idempotency_key=idempotency_key,
        )
        return self._charge(status, body)

    def _refund(self, charge_ref, amount, currency, reference, reason, idempotency_key) -> RefundResult:
        status, body = self.request(
            "POST",
            f"/v1/charges/{quote(charge_ref, safe='')}/refunds",
            json={
                "amount": to_minor(amount, currency),
                "reason": reason,
                "metadata": {"reference": reference},
            },
            idempotency_key=idempotency_key,
        )
        if status >= 400:
            raise _rejected(body)
        return _refund_result(body)

    def status(self, *, charge_ref: str) -> ChargeResult:
        status, body = self.request("GET", f"/v1/charges/{quote(charge_ref, safe='')}")
        return self._charge(status, body)

    def lookup(self, *, idempotency_key: str) -> ChargeResult | RefundResult | None:
        status, body = self.request("GET", f"/v1/idempotency_keys/{quote(idempotency_key, safe='')}")
        if status == 404 or not body.get("resource"):
            return None
        if status >= 400:
            raise _rejected(body)
        resource = body["resource"]
        return _refund_result(resource) if resource.get("object") == "refund" else _charge_result(resource)

    def parse_event(self, payload: dict[str, Any]) -> GatewayEvent:
        data = payload.get("data")
        if not isinstance(data, dict) or data.get("object") not in {"charge", "refund"}:
            raise InvalidEvent("cardinal events carry a charge or a refund in data")
        if data["object"] == "charge":
            return GatewayEvent(id=payload["id"], type=payload["type"], charge_ref=str(data.get("id", "")))
        return GatewayEvent(
            id=payload["id"],
            type=payload["type"],
            charge_ref=str(data.get("charge", "")),
            refund_ref=str(data.get("id", "")),
            refund_reference=str((data.get("metadata") or {}).get("reference", "")),
        )

    def _charge(self, status: int, body: dict) -> ChargeResult:
        if status >= 400:
            raise _rejected(body)
        return _charge_result(body)


def _error(body: dict) -> dict:
    error = body.get("error")
    return error if isinstance(error, dict) else {}


def _rejected(body: dict) -> GatewayRejected:
    error = _error(body)
    return GatewayRejected(
        error.get("code", "rejected"),
        error.get("message", "cardinal refused the request"),
        idempotency_conflict=error.get("type") == "idempotency_error",
    )


def _charge_result(body: dict) -> ChargeResult:
    try:
        status = _CHARGE_STATUSES[body["status"]]
        return ChargeResult(ref=body["id"], status=status, decline_code=body.get("decline_code") or "")
    except KeyError as exc:
        raise GatewayUnavailable(f"cardinal charge answer lacks or garbles {exc}") from exc


def _refund_result(body: dict) -> RefundResult:
    try:
        return RefundResult(
            ref=body["id"],
            charge_ref=body["charge"],
            status="succeeded" if body["status"] == "succeeded" else "pending",
            amount=from_minor(int(body["amount"]), str(body.get("currency", "EUR"))),
        )
    except (KeyError, ValueError, TypeError) as exc:
        raise GatewayUnavailable(f"cardinal refund answer lacks or garbles {exc}") from exc
