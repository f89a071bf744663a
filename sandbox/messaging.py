"""Push and SMS providers (fakes of real messaging APIs), in the style of the card gateways.

`POST /<provider>/messages {"to", "text", "title"}` with `Authorization: Bearer <api key>` and an
`Idempotency-Key` header: 201 `{"id", "status": "accepted"}`; the same key again answers 200 with the first
message and sends nothing. An SMS goes to an E.164 number, a push to `user:<id>`; any other address is a
400 `invalid_recipient`. Delivery receipts go to `webhook_url` (`{provider}` filled in), signed like the
gateways' webhooks (sandbox/signing.py): `{"id", "message_id", "idempotency_key", "to", "status":
"delivered" | "bounced", "at"}`, retried with backoff while the receiver does not answer 2xx.

Fault knobs (`PUT /_sandbox/messaging/<provider>`): latency_ms, error_rate (503, nothing sent), drop_rate
(accepted, then never delivered and no receipt), undeliverable (addresses that bounce), receipt_delay_ms.
`GET /_sandbox/messaging/<provider>/messages` lists what was accepted (a handset's view, with statuses);
`POST /_sandbox/messaging/<provider>/reset` forgets them.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import random
import re
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

import requests
from flask import Blueprint, Flask, request

from .knobs import KnobError, _number, _seed, _text, _url
from .signing import signed_headers

PROVIDERS = ("push", "sms")
DEFAULT_API_KEY = "dev-only-messaging-api-key"  # DEV-ONLY: the Notification service's default
DEFAULT_RECEIPT_SECRET = "dev-only-receipt-secret"  # DEV-ONLY: the Notification service's default
ADDRESS = {"sms": re.compile(r"^\+[1-9][0-9]{7,14}$"), "push": re.compile(r"^user:[1-9][0-9]{0,18}$")}
KEY = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")
RECEIPT_ATTEMPTS, RECEIPT_RETRY_MS, RECEIPT_TIMEOUT = 6, 200, 5


def _addresses(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise TypeError("must be a list of addresses")
    return tuple(value)


@dataclass(frozen=True)
class MessagingKnobs:
    api_key: str = DEFAULT_API_KEY
    webhook_url: str = ""
    webhook_secret: str = DEFAULT_RECEIPT_SECRET
    latency_ms: int = 0
    error_rate: float = 0.0
    drop_rate: float = 0.0
    receipt_delay_ms: int = 0
    undeliverable: tuple[str, ...] = ()
    seed: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "undeliverable": list(self.undeliverable)}

    def updated(self, changes: dict[str, Any]) -> MessagingKnobs:
        checks = {
            "api_key": _text, "webhook_url": _url, "webhook_secret": _text, "seed": _seed,
            "latency_ms": _number(0, 120_000, integer=True), "error_rate": _number(0, 1),
            "drop_rate": _number(0, 1), "receipt_delay_ms": _number(0, 60_000, integer=True),
            "undeliverable": _addresses,
        }  # fmt: skip
        errors, clean = {}, {}
        for name, value in changes.items():
            if name not in checks:
                errors[name] = "unknown knob"
                continue
            try:
                clean[name] = checks[name](value)
            except (TypeError, ValueError) as exc:
                errors[name] = str(exc)
        if errors:
            raise KnobError(errors)
        return dataclasses.replace(self, **clean)


class Provider:
    """One provider's state: its knobs, the messages it accepted (by idempotency key), its receipts."""

    def __init__(self, name: str, knobs: MessagingKnobs):
        self.name, self.base, self.knobs = name, knobs, knobs
        self.lock = threading.Lock()
        self.messages: dict[str, dict[str, Any]] = {}
        self.receipts: list[dict[str, Any]] = []
        self.generation = 0
        self.rng = random.Random(knobs.seed)

    def reset(self) -> None:
        with self.lock:
            self.knobs, self.messages, self.receipts = self.base, {}, []
            self.generation += 1
            self.rng = random.Random(self.base.seed)

    def accept(self, key: str, to: str, text: str, title: str) -> tuple[dict[str, Any], bool, bool]:
        """(message, created, dropped): the first message under `key`, or a new one."""
        with self.lock:
            if key in self.messages:
                return self.messages[key], False, False
            bounced = to in self.knobs.undeliverable
            dropped = not bounced and self.rng.random() < self.knobs.drop_rate
            message = {
                "id": f"{self.name}_{uuid.uuid4().hex[:20]}",
                "idempotency_key": key,
                "to": to,
                "text": text,
                "title": title,
                "status": "bounced" if bounced else ("accepted" if dropped else "delivered"),
                "at": _now(),
            }
            self.messages[key] = message
            return message, True, dropped


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z")


def _send_receipt(
    provider: Provider, message: dict[str, Any], knobs: MessagingKnobs, generation: int
) -> None:
    time.sleep(knobs.receipt_delay_ms / 1000)
    receipt = {
        "id": f"rcpt_{uuid.uuid4().hex[:20]}",
        "message_id": message["id"],
        "idempotency_key": message["idempotency_key"],
        "to": message["to"],
        "status": message["status"],
        "at": _now(),
    }
    body = json.dumps(receipt, separators=(",", ":")).encode()
    for attempt in range(1, RECEIPT_ATTEMPTS + 1):
        if provider.generation != generation:
            return
        status, error = None, None
        try:
            answer = requests.post(
                knobs.webhook_url.replace("{provider}", provider.name),
                data=body,
                headers=signed_headers(knobs.webhook_secret, body),
                timeout=RECEIPT_TIMEOUT,
            )
            status = answer.status_code
        except requests.RequestException as exc:
            error = f"{type(exc).__name__}"
        with provider.lock:
            provider.receipts.append(
                {**receipt, "attempt": attempt, "response_status": status, "error": error}
            )
        if status is not None and 200 <= status < 300:
            return
        time.sleep(RECEIPT_RETRY_MS * 2 ** (attempt - 1) / 1000)


def blueprint(provider: Provider) -> Blueprint:
    bp = Blueprint(f"messaging_{provider.name}", __name__, url_prefix=f"/{provider.name}")

    @bp.post("/messages")
    def send():
        knobs = provider.knobs
        time.sleep(knobs.latency_ms / 1000)
        if request.headers.get("Authorization", "") != f"Bearer {knobs.api_key}":
            return {"code": "unauthorized", "message": "Bad or missing API key"}, 401
        with provider.lock:
            failing = provider.rng.random() < knobs.error_rate
        if failing:
            return {"code": "unavailable", "message": "Injected failure"}, 503
        key = request.headers.get("Idempotency-Key", "")
        if not KEY.match(key):
            return {
                "code": "idempotency_key_required",
                "message": "Idempotency-Key: 8-128 of [A-Za-z0-9._:-]",
            }, 400
        body = request.get_json(silent=True)
        if not isinstance(body, dict) or not all(
            isinstance(body.get(f, ""), str) for f in ("to", "text", "title")
        ):
            return {"code": "malformed_request", "message": "Expected {to, text, title} strings"}, 400
        to, text = body.get("to", ""), body.get("text", "")
        if not ADDRESS[provider.name].match(to):
            return {"code": "invalid_recipient", "message": f"{to!r} is not a {provider.name} address"}, 400
        if not text or len(text) > 1000:
            return {"code": "malformed_request", "message": "text must be 1 to 1000 characters"}, 400
        message, created, dropped = provider.accept(key, to, text, body.get("title", ""))
        if created and not dropped and knobs.webhook_url:
            threading.Thread(
                target=_send_receipt, args=(provider, message, knobs, provider.generation), daemon=True
            ).start()
        return {"id": message["id"], "status": "accepted"}, 201 if created else 200

    return bp


def base_knobs_from_env(env: dict[str, str]) -> dict[str, MessagingKnobs]:
    url = env.get("SANDBOX_RECEIPT_URL", "")
    return {
        name: MessagingKnobs(
            api_key=env.get("SANDBOX_MESSAGING_API_KEY", DEFAULT_API_KEY),
            webhook_secret=env.get("SANDBOX_RECEIPT_SECRET", DEFAULT_RECEIPT_SECRET),
            webhook_url=url,
        )
        for name in PROVIDERS
    }


def register(app: Flask, knobs: dict[str, MessagingKnobs]) -> dict[str, Provider]:
    """Mount both providers and their control plane on the sandbox app."""
    providers = {name: Provider(name, knobs[name]) for name in PROVIDERS}
    for provider in providers.values():
        app.register_blueprint(blueprint(provider))

    def provider_or_404(name: str) -> Provider | None:
        return providers.get(name)

    @app.get("/_sandbox/messaging/<name>")
    def messaging_knobs(name: str):
        provider = provider_or_404(name)
        if provider is None:
            return {"error": "provider_not_found", "message": f"known: {list(PROVIDERS)}", "fields": {}}, 404
        return provider.knobs.as_dict()

    @app.route("/_sandbox/messaging/<name>", methods=["PUT", "PATCH"])
    def messaging_set_knobs(name: str):
        provider = provider_or_404(name)
        changes = request.get_json(silent=True)
        if provider is None:
            return {"error": "provider_not_found", "message": f"known: {list(PROVIDERS)}", "fields": {}}, 404
        if not isinstance(changes, dict):
            return {
                "error": "malformed_request",
                "message": "The body must be a JSON object",
                "fields": {},
            }, 400
        try:
            with provider.lock:
                provider.knobs = provider.knobs.updated(changes)
                if "seed" in changes:
                    provider.rng = random.Random(provider.knobs.seed)
        except KnobError as error:
            return {
                "error": "invalid_knobs",
                "message": "Some knobs were refused",
                "fields": error.fields,
            }, 400
        return provider.knobs.as_dict()

    @app.get("/_sandbox/messaging/<name>/messages")
    def messaging_inbox(name: str):
        provider = provider_or_404(name)
        if provider is None:
            return {"error": "provider_not_found", "message": f"known: {list(PROVIDERS)}", "fields": {}}, 404
        to = request.args.get("to")
        with provider.lock:
            messages = [m for m in provider.messages.values() if to is None or m["to"] == to]
            receipts = list(provider.receipts)
        return {"messages": messages, "receipts": receipts}

    @app.post("/_sandbox/messaging/<name>/reset")
    def messaging_reset(name: str):
        provider = provider_or_404(name)
        if provider is None:
            return {"error": "provider_not_found", "message": f"known: {list(PROVIDERS)}", "fields": {}}, 404
        provider.reset()
        return {"status": "reset"}

    return providers
