"""The monolith's account emails behind `monolith.accounts.emails_via_service`, with real SMTP servers
(aiosmtpd), real PostgreSQL and RabbitMQ:

- flag off: the monolith mails the password reset itself, as it always did, and writes nothing for the
  Notification service (and still sends no welcome: it never did);
- flag on: it mails nothing; the reset and the welcome are `account.*` events through its outbox, which the
  relay publishes with an id of their own, and the Notification service's real consumer and worker processes
  send each once, even when the relay publishes it again (a crash between the confirm and its commit).
"""

from __future__ import annotations

import threading
import time
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from django.utils import timezone

from bench.notification_stack import running_notification_stack
from flags import Flags, FlagsConfig
from flags.flagsfile import dump_features, write_atomically
from legacy_monolith.accounts.models import AccountEmail
from legacy_monolith.accounts.services import password_reset_request, user_register
from legacy_monolith.accounts.services.emails import EMAILS_VIA_SERVICE_FLAG
from legacy_monolith.catalog import reads
from legacy_monolith.demo.processes import free_port
from migrations_data.models import OutboxEvent
from migrations_data.outbox.relay import run_relay

pytestmark = pytest.mark.django_db(transaction=True)
PASSWORD = "a-Long-enough-pass-42"


class Inbox:
    """The monolith's SMTP server: the messages it accepted."""

    def __init__(self):
        self.messages, self.lock = [], threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"


@pytest.fixture
def monolith_smtp(settings):
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", controller.port, 5
    yield inbox
    controller.stop()


def use_flag(tmp_path: Path, enabled: bool):
    path = tmp_path / "flags.json"
    features = [{"name": EMAILS_VIA_SERVICE_FLAG, "type": "release", "enabled": enabled, "strategies": []}]
    write_atomically(path, dump_features({"version": 2, "features": features}))
    facade = Flags(FlagsConfig(flags_file=path, audit_log=tmp_path / "audit.log"))
    return facade, reads.use_flags(facade)


@pytest.fixture
def flag_off(tmp_path):
    facade, previous = use_flag(tmp_path, False)
    yield
    reads.use_flags(previous)
    facade.close()


@pytest.fixture
def flag_on(tmp_path):
    facade, previous = use_flag(tmp_path, True)
    yield
    reads.use_flags(previous)
    facade.close()


def register(username: str):
    return user_register(
        username=username, email=f"{username}@example.com", password=PASSWORD, first_name="Ana"
    )


def account_outbox() -> list[OutboxEvent]:
    return list(OutboxEvent.objects.filter(entity=OutboxEvent.Entity.ACCOUNT_EMAIL, sent_at__isnull=True))


def test_with_the_flag_off_the_monolith_mails_the_reset_itself_and_writes_nothing_for_the_service(
    flag_off, monolith_smtp
):
    user = register("offuser")
    password_reset_request(email=user.email)
    [mail] = monolith_smtp.messages
    assert (mail["To"], mail["Subject"]) == (user.email, "Reset your TechStore password")
    assert "reset/confirm" in mail.get_content()
    assert AccountEmail.objects.count() == 0
    assert account_outbox() == []


def test_with_the_flag_on_the_service_sends_the_welcome_and_the_reset_once_and_the_monolith_none(
    flag_on, monolith_smtp, tmp_path, settings
):
    settings.PASSWORD_RESET_URL = "https://shop.example/reset"
    user = register("onuser")
    password_reset_request(email=user.email)
    assert monolith_smtp.messages == []
    mails = {mail.kind: mail for mail in AccountEmail.objects.filter(user_id=user.pk)}
    assert set(mails) == {AccountEmail.Kind.REGISTERED, AccountEmail.Kind.PASSWORD_RESET_REQUESTED}
    assert mails[AccountEmail.Kind.PASSWORD_RESET_REQUESTED].reset_url.startswith(
        "https://shop.example/reset?token="
    )
    assert len(account_outbox()) == 2

    with running_notification_stack(var_dir=tmp_path / "notification") as stack:
        first = run_relay(once=True, timeout=30, broker_url=stack.broker_url, progress=False, retention=None)
        assert first.by_type == {"account.registered": 1, "account.password_reset_requested": 1}
        receipts = stack.sink.receipts
        assert receipts.wait_for([user.email], timeout=60) == 1
        sent = "SELECT count(*) FROM notification_service_notification WHERE state = 'sent'"
        deadline = time.monotonic() + 60
        while stack.scalar(sent) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert stack.scalar(sent) == 2
        # The relay's confirm was lost before its commit: it publishes both events again, same ids.
        reset_url = mails[AccountEmail.Kind.PASSWORD_RESET_REQUESTED].reset_url
        OutboxEvent.objects.filter(entity=OutboxEvent.Entity.ACCOUNT_EMAIL).update(sent_at=None)
        AccountEmail.objects.update(published_at=None)
        AccountEmail.objects.filter(kind=AccountEmail.Kind.PASSWORD_RESET_REQUESTED).update(
            reset_url=reset_url
        )
        again = run_relay(once=True, timeout=30, broker_url=stack.broker_url, progress=False, retention=None)
        assert again.events == 2
        time.sleep(3)  # what the consumer and the worker would do with the copies, they have done
        assert len(receipts.times[user.email]) == 2  # the welcome and the reset, each once
        assert stack.scalar("SELECT count(*) FROM notification_service_notification") == 2
        assert stack.scalar("SELECT count(DISTINCT event_type) FROM notification_service_notification") == 2
    assert monolith_smtp.messages == []
    published = AccountEmail.objects.get(kind=AccountEmail.Kind.PASSWORD_RESET_REQUESTED)
    assert published.published_at is not None
    assert published.published_at <= timezone.now()
    assert published.reset_url == ""  # the token does not stay in the monolith's tables
