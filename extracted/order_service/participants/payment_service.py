"""The payment port's `payment_service` adapter: the Payment service's asynchronous charge API.

    tokenize  -> POST /internal/v1/cards                 (a card_id; the number is dropped there)
    authorize -> POST /internal/v1/payments               capture=false: 202, decided in its worker
    capture   -> POST /internal/v1/payments/<id>/capture  202
    void      -> POST /internal/v1/payments/<id>/cancel   202: voids an authorization, stops a pending one;
                 POST /internal/v1/payments/voids         when authorize never answered (no id): by its key,
                                                          so an authorization still on its way is voided on
                                                          arrival (the service keeps a tombstone)
    refund    -> POST /internal/v1/payments/<id>/refunds  keyed by the command's idempotency key

The service answers 202 at once and decides in a worker. The adapter waits a little for the decision (it
reads the status document every 50 ms for up to WAIT_SECONDS): a final status is the outcome; a payment
still deciding is `ParticipantUnavailable`, so the saga asks again later with backoff and full jitter.
Asking again is safe: the charge is keyed by the command's idempotency key (the service answers the same
payment), capture and cancel are idempotent. The same rule covers a service that is down or slow.

Which orders pay here: `payment_service_chosen(user_id)`, the flag `route.payments.charge` evaluated for
the user (sticky per user, as the gateway evaluates route flags), decided once when the order is created
(participants/payments.py: choose_payment_adapter), so an order never pays on both sides.
"""

from __future__ import annotations

import threading
import time
from dataclasses import asdict

import requests
from django.conf import settings

from .http import internal_post
from .payments import (
    AuthorizePayment,
    CapturePayment,
    CardToken,
    ParticipantUnavailable,
    PaymentOutcome,
    RefundPayment,
    TokenizeCard,
    VoidPayment,
)

NAME = "payment_service"
FLAG = "route.payments.charge"
WAIT_SECONDS = 2.0
POLL_SECONDS = 0.05
# The service's statuses that end each command, and the outcome the saga reads for them.
FINAL = {
    "authorize": {
        "authorized": "authorized",
        "captured": "authorized",
        "declined": "declined",
        "rejected_fraud": "rejected_fraud",
        "failed": "failed",
        "voided": "failed",
    },
    "capture": {
        "captured": "captured",
        "partially_refunded": "captured",
        "refunded": "captured",
        "failed": "failed",
    },
    "void": {
        "voided": "voided",
        "failed": "voided",
        "declined": "voided",
        "rejected_fraud": "voided",
        "refunded": "refunded",
    },
}
_local = threading.local()


def payment_service_chosen(user_id: int) -> bool:
    """Whether a new order of this user pays through the Payment service (flag route.payments.charge)."""
    from flags import FlagContext

    return _flags().is_enabled(FLAG, FlagContext(user_id=str(user_id)))


def _flags():
    from flags.shared import shared_flags  # imported on first use: the flags client is heavy

    return shared_flags()


def use_flags(facade) -> object:
    """Replace the process's flags facade (tests); returns the previous one."""
    from flags.shared import replace_shared_flags

    return replace_shared_flags(facade)


def _billing(shipping) -> dict | None:
    """The order's name and address, which the service keeps sealed (AES-256-GCM) with the payment."""
    if not isinstance(shipping, dict):
        return None
    address = {k: str(shipping[k]) for k in ("line1", "city", "postal_code", "country") if shipping.get(k)}
    return {"name": str(shipping.get("name") or "")[:120], "address": address or None}


def _get(path: str) -> dict:
    session = getattr(_local, "session", None)
    if session is None:
        session = _local.session = requests.Session()
    try:
        response = session.get(
            settings.PAYMENT_SERVICE_URL.rstrip("/") + path,
            headers={"Authorization": f"Bearer {settings.INTERNAL_API_TOKEN}"},
            timeout=(settings.ORDER_PARTICIPANT_CONNECT_TIMEOUT, settings.ORDER_PARTICIPANT_READ_TIMEOUT),
        )
        body = response.json()
    except (requests.RequestException, ValueError) as exc:
        raise ParticipantUnavailable(f"payment service unreachable: {type(exc).__name__}") from exc
    if response.status_code >= 500 or not isinstance(body, dict):
        raise ParticipantUnavailable(f"payment service answered {response.status_code}")
    return body


class PaymentServicePayments:
    name = NAME

    def _post(self, path: str, body: dict, what: str) -> tuple[int, dict]:
        return internal_post(settings.PAYMENT_SERVICE_URL, path, body, what=f"payment service {what}")

    def tokenize(self, command: TokenizeCard) -> CardToken:
        status, body = self._post(
            "/internal/v1/cards", {**asdict(command.card), "gateway": command.gateway}, "cards"
        )
        if status == 201:
            return CardToken(
                token=body["card_id"],
                gateway=body["gateway"],
                brand=body.get("brand", ""),
                bin=body.get("bin", ""),
                last4=body.get("last4", ""),
                country=body.get("country", ""),
            )
        code = (body.get("extra") or {}).get("decline_code") or body.get("code") or "card_declined"
        return CardToken(
            token="", gateway=command.gateway or "", error_code=code, error_message=body.get("message", "")
        )

    def authorize(self, command: AuthorizePayment) -> PaymentOutcome:
        if not command.card.token:  # refused at tokenization: the order fails like the monolith's
            return PaymentOutcome(
                "declined",
                code=command.card.error_code or "card_declined",
                message=command.card.error_message,
            )
        order = command.order or {}
        shipping = order.get("shipping") or {}
        status, body = self._submit(
            {
                "idempotency_key": command.idempotency_key,
                "order_number": order.get("number") or command.idempotency_key.split(":")[0],
                "user_id": int(order.get("user_id") or 0) or 1,
                "amount": f"{command.amount:.2f}",
                "currency": command.currency,
                "gateway": command.card.gateway or None,
                "card_id": command.card.token,
                "capture": False,
                "shipping_country": shipping.get("country", "") if isinstance(shipping, dict) else "",
                "billing": _billing(shipping),
                "client_ip": command.client_ip,
                "deadline": command.deadline.isoformat(),
            }
        )
        if status != 202:
            return PaymentOutcome(
                "failed", code=body.get("code", "payment_refused"), message=body.get("message", "")
            )
        return self._settled("authorize", body)

    def _submit(self, charge: dict) -> tuple[int, dict]:
        """The authorization's charge (capture=false): (202, its status document) or the refusal."""
        return self._post("/internal/v1/payments", charge, "authorize")

    def capture(self, command: CapturePayment) -> PaymentOutcome:
        status, body = self._post(f"/internal/v1/payments/{command.payment_id}/capture", {}, "capture")
        if status != 202:
            return PaymentOutcome(
                "failed",
                payment_id=command.payment_id,
                code=body.get("code", ""),
                message=body.get("message", ""),
            )
        return self._settled("capture", body)

    def void(self, command: VoidPayment) -> PaymentOutcome:
        outcome = PaymentOutcome("voided", payment_id=command.payment_id)  # never authorized: nothing to void
        if not command.payment_id:
            # Authorize never answered: void by its key. The service cancels the charge if it exists, else
            # records that it is voided, so a charge still on its way is never authorized (a race the
            # order-number lookup lost: the charge's insert could commit right after an empty answer).
            status, body = self._post(
                "/internal/v1/payments/voids",
                {
                    "order_number": command.order_number,
                    "authorize_key": command.authorize_key,
                    "reason": command.reason[:200],
                },
                "voids",
            )
            if status != 200:
                raise ParticipantUnavailable(f"payment service voids answered {status}: {body.get('code')}")
            for document in body.get("results", []):
                outcome = self._settled("void", document)
            return outcome
        status, body = self._post(f"/internal/v1/payments/{command.payment_id}/cancel", {}, "cancel")
        if status == 404:
            return outcome
        return self._settled("void", body)

    def refund(self, command: RefundPayment) -> PaymentOutcome:
        status, body = self._post(
            f"/internal/v1/payments/{command.payment_id}/refunds",
            {
                "idempotency_key": command.idempotency_key,
                "amount": f"{command.amount:.2f}",
                "reason": command.reason[:200],
            },
            "refund",
        )
        if status in (200, 201):
            return self._outcome("refunded", _get(f"/internal/v1/payments/{command.payment_id}"))
        if body.get("code") == "payment_not_refundable":  # never captured: take back whatever it holds
            return self.void(
                VoidPayment(
                    command.saga_id,
                    command.idempotency_key,
                    command.order_number,
                    command.payment_id,
                    "",
                    command.reason,
                )
            )
        return PaymentOutcome(
            "failed",
            payment_id=command.payment_id,
            code=body.get("code", ""),
            message=body.get("message", ""),
        )

    # --- the wait for the worker's decision -------------------------------------------------------
    def _settled(self, action: str, document: dict) -> PaymentOutcome:
        deadline = time.monotonic() + WAIT_SECONDS
        while True:
            outcome = FINAL[action].get(document.get("status", ""))
            if outcome is not None:
                return self._outcome(outcome, document)
            if time.monotonic() >= deadline:
                raise ParticipantUnavailable(
                    f"payment {document.get('id')} still {document.get('status')} after {WAIT_SECONDS:g} s"
                )
            time.sleep(POLL_SECONDS)
            document = self._document(document["id"])

    def _document(self, payment_id) -> dict:
        """The payment's status document as it is now (the gRPC adapter reads it with Status)."""
        return _get(f"/internal/v1/payments/{payment_id}")

    @staticmethod
    def _outcome(outcome: str, document: dict) -> PaymentOutcome:
        return PaymentOutcome(
            outcome,
            payment_id=str(document.get("id", "")),
            status=document.get("status", ""),
            gateway=document.get("gateway", ""),
            card_brand=document.get("card_brand", ""),
            card_last4=document.get("card_last4", ""),
            code=document.get("failure_code", "")
            if outcome in ("declined", "rejected_fraud", "failed")
            else "",
            message=document.get("failure_message", "")
            if outcome in ("declined", "rejected_fraud", "failed")
            else "",
        )
