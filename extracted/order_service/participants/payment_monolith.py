"""The payment port's `monolith` adapter: the monolith's payments app through its internal endpoints.

`POST {MONOLITH_URL}/internal/v1/payments/tokenize|authorize|capture|void|refund`, bearer
INTERNAL_API_TOKEN; each answer is a PaymentOutcome's fields (tokenize: a CardToken's). The monolith keys
every money-moving call by the command's idempotency key (its Payment/Refund rows are unique on it), so a
repeated call answers the first outcome. See payments.py for the contract.
"""

from __future__ import annotations

from dataclasses import asdict

from django.conf import settings

from .http import internal_post
from .payments import (
    AuthorizePayment,
    CapturePayment,
    CardToken,
    PaymentOutcome,
    RefundPayment,
    TokenizeCard,
    VoidPayment,
)


class MonolithPayments:
    name = "monolith"

    def _post(self, action: str, body: dict) -> dict:
        _, payload = internal_post(
            settings.MONOLITH_URL, f"/internal/v1/payments/{action}", body, what=f"monolith payments {action}"
        )
        return payload

    def tokenize(self, command: TokenizeCard) -> CardToken:
        payload = self._post(
            "tokenize",
            {"gateway": command.gateway, "user_id": command.user_id, "card": asdict(command.card)},
        )
        return CardToken(**{k: str(payload.get(k) or "") for k in CardToken.__dataclass_fields__})

    def authorize(self, command: AuthorizePayment) -> PaymentOutcome:
        return self._outcome(
            "authorize",
            {
                "idempotency_key": command.idempotency_key,
                "order": command.order,
                "amount": str(command.amount),
                "currency": command.currency,
                "card": asdict(command.card),
                "client_ip": command.client_ip,
            },
        )

    def capture(self, command: CapturePayment) -> PaymentOutcome:
        return self._outcome(
            "capture",
            {
                "idempotency_key": command.idempotency_key,
                "payment_id": command.payment_id,
                "amount": str(command.amount),
            },
        )

    def void(self, command: VoidPayment) -> PaymentOutcome:
        return self._outcome(
            "void",
            {
                "idempotency_key": command.idempotency_key,
                "payment_id": command.payment_id,
                "authorize_key": command.authorize_key,
                "reason": command.reason,
            },
        )

    def refund(self, command: RefundPayment) -> PaymentOutcome:
        return self._outcome(
            "refund",
            {
                "idempotency_key": command.idempotency_key,
                "payment_id": command.payment_id,
                "amount": str(command.amount),
                "reason": command.reason,
            },
        )

    def _outcome(self, action: str, body: dict) -> PaymentOutcome:
        return PaymentOutcome.from_dict(self._post(action, body))
