"""The Notification service's own test session (settings extracted.notification_service.settings, database
NOTIFICATION_DATABASE_URL, real PostgreSQL and RabbitMQ, a real SMTP server): run it with `pytest
--ds=extracted.notification_service.settings --confcutdir=tests/extracted/notification_service
tests/extracted/notification_service`.

The SMTP server is aiosmtpd, started in this process on a free port; the tests read what it received.
"""

from __future__ import annotations

import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest
import requests
from aiosmtpd.controller import Controller
from kombu import Connection
from rest_framework.test import APIClient

from chassis.broker import Publisher
from chassis.celery_app import app as celery_app
from chassis.consumers import ConsumerWorker
from contracts.events import Envelope
from extracted.notification_service.services import dead_letters
from tests.chassis.conftest import amqp_url, rabbit  # noqa: F401 (RabbitMQ fixtures, shared)

IDENTITY_KEY = "test-internal-identity-key-0123456789abcdef"
BOUNCING_DOMAIN = "@bounce.example"


@dataclass
class Mailbox:
    """What the SMTP server accepted (one entry per message, per recipient)."""

    messages: list[EmailMessage] = field(default_factory=list)
    peers: list[tuple] = field(default_factory=list)  # the client connection (address, port) of each message
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.endswith(BOUNCING_DOMAIN):
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        message = message_from_bytes(envelope.content, policy=policy.default)
        with self.lock:
            self.messages.append(message)
            self.peers.append(tuple(session.peer))
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[EmailMessage]:
        with self.lock:
            return [m for m in self.messages if m["To"] == address]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def smtp_server():
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller
    controller.stop()


@pytest.fixture
def mailbox(smtp_server, settings) -> Mailbox:
    """This test's view of the real SMTP server (emptied first), and the service pointed at it."""
    handler: Mailbox = smtp_server.handler
    with handler.lock:
        handler.messages.clear()
        handler.peers.clear()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", smtp_server.port
    settings.EMAIL_TIMEOUT = 5
    return handler


@pytest.fixture
def eager_tasks(settings):
    """Celery tasks run in-process when sent (retries run at once, their countdown ignored)."""
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    settings.NOTIFICATION_MAX_RETRIES = 2
    yield
    celery_app.conf.task_always_eager = previous


@pytest.fixture
def deliveries_dlq(rabbit, settings, monkeypatch):  # noqa: F811 (the fixture)
    """The deliveries consumer under a name of this test's own (its queues deleted after)."""
    name = f"{rabbit.prefix}.deliveries"
    monkeypatch.setattr(dead_letters, "DELIVERIES_CONSUMER", name)
    settings.BROKER_URL, settings.BROKER_TRANSPORT_OPTIONS = rabbit.url, {}
    rabbit.queues += [name, f"{name}.dlq", f"{name}.retry.1"]
    return name


def consumer_named(rabbit, cls, name: str):  # noqa: F811 (the fixture's value)
    rabbit.queues += [name, f"{name}.dlq", f"{name}.retry.1"]
    return type(cls.__name__, (cls,), {"name": name})


def run_consumer(rabbit, cls, *envelopes: Envelope, max_attempts: int = 2):  # noqa: F811
    """Publish `envelopes` on this test's exchange and consume until the queue stays empty."""
    with Connection(rabbit.url) as conn:
        worker = ConsumerWorker(
            cls(), conn, exchange=rabbit.exchange, max_attempts=max_attempts, retry_base_ms=20
        )
        worker.declare()
        with Publisher(rabbit.url, exchange=rabbit.exchange) as publisher:
            for envelope in envelopes:
                publisher.publish(envelope)
        return worker.run(once=True, idle_timeout=1.0)


def user_doc(user_id: int, *, email: str, phone: str = "+5511999990000", version: int = 1, **extra) -> dict:
    doc = {
        "id": user_id, "username": f"user{user_id}", "email": email, "first_name": "Ana",
        "last_name": "Silva",
        "phone": phone, "role": "customer", "is_active": True, "date_joined": "2026-01-02T03:04:05Z",
        "password": "", "origin": "auth", "version": version,
    }  # fmt: skip
    doc.update(extra)
    return doc


def order_doc(user_id: int, *, number: str = "TS-1", status: str = "payment_failed", **extra) -> dict:
    doc = {
        "number": number, "order_id": number, "origin": "service", "version": 2, "user_id": user_id,
        "status": status, "currency": "BRL", "subtotal": "100.00", "discount_total": "0.00",
        "shipping_total": "10.00", "total": "110.00", "coupon_code": None,
        "shipping": {"name": "Ana", "line1": "Rua 1", "city": "SP", "postal_code": "01000", "country": "BR",
                     "carrier": "correios"},
        "lines": [{"product_id": 1, "sku": "SKU-1", "name": "Mouse <pro>", "unit_price": "50.00",
                   "quantity": 2, "line_total": "100.00"}],
        "payment": None, "failure": {"code": "card_declined", "message": "card declined"},
        "created_at": "2026-01-02T03:04:05Z", "paid_at": None, "cancelled_at": None,
    }  # fmt: skip
    doc.update(extra)
    return doc


def event(type_: str, data: dict, *, source: str = "order_service") -> Envelope:
    return Envelope.new(type_, data, source=source)


@pytest.fixture
def as_user(settings):
    """`as_user(user_id, method, path)`: the gateway's signed identity header for one request."""
    from contracts.identity import sign_identity

    settings.INTERNAL_IDENTITY_KEY = IDENTITY_KEY

    def sign(user_id: int, method: str, path: str, body: bytes | None = None) -> dict:
        value = sign_identity(
            key=IDENTITY_KEY, user_id=user_id, roles=["customer"], scope=["read", "write"],
            jti=uuid.uuid4().hex, method=method, path=path, body=body,
        )  # fmt: skip
        return {"HTTP_X_STRANGLER_IDENTITY": value}

    return sign


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@dataclass
class Messaging:
    """The sandbox's push and SMS providers for one test (reset, receipts pointed at this service)."""

    base_url: str

    def reset(self, **knobs) -> None:
        for name in ("push", "sms"):
            requests.post(f"{self.base_url}/_sandbox/messaging/{name}/reset", timeout=5).raise_for_status()
            if knobs:
                self.set_knobs(name, **knobs)

    def set_knobs(self, name: str, **knobs) -> dict:
        answer = requests.put(f"{self.base_url}/_sandbox/messaging/{name}", json=knobs, timeout=5)
        answer.raise_for_status()
        return answer.json()

    def messages(self, name: str, to: str | None = None) -> list[dict]:
        params = {"to": to} if to else {}
        answer = requests.get(f"{self.base_url}/_sandbox/messaging/{name}/messages", params=params, timeout=5)
        return answer.json()["messages"]


@pytest.fixture(scope="session")
def sandbox_process():
    from tests.sandbox_fixtures import _start_sandbox, _stop

    server = _start_sandbox("dev-only-gateway-api-key", "dev-only-webhook-secret")
    yield server
    _stop(server)


@pytest.fixture
def messaging(sandbox_process, live_server, settings) -> Messaging:
    handle = Messaging(sandbox_process.base_url)
    receipts = f"{live_server.url}/api/v2/notifications/receipts/{{provider}}"
    handle.reset(webhook_url=receipts)
    settings.NOTIFICATION_PUSH_URL = f"{handle.base_url}/push"
    settings.NOTIFICATION_SMS_URL = f"{handle.base_url}/sms"
    return handle


def wait_for(predicate, timeout: float = 15.0):
    """Poll until `predicate()` is truthy (a receipt travels through another process); its value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.05)
