"""The Auth service's password-reset mail behind `monolith.accounts.emails_via_service` (issue 21): off, its
own mail backend sends it (test_login_and_passwords.py); on, it mails nothing itself and writes
`account.password_reset_requested` to its outbox with the token; its relay publishes it to a real RabbitMQ,
and the Notification service's real consumer and worker processes send it to a real SMTP server (aiosmtpd),
where this test reads it: the link carries the token that resets the password.
"""

from __future__ import annotations

import threading
import time
from email import message_from_bytes, policy
from urllib.parse import parse_qs, urlparse

import pytest
from aiosmtpd.controller import Controller
from django.core import mail
from django.core.management import call_command

from bench.notification_stack import running_notification_stack
from chassis.outbox.models import OutboxEvent
from contracts.notifications import ACCOUNT_PASSWORD_RESET_REQUESTED
from extracted.auth_service.accounts import mail as reset_mail
from extracted.auth_service.accounts.passwords import password_reset_confirm, password_reset_request
from extracted.auth_service.models import User
from flags import Flags, FlagsConfig
from flags.flagsfile import dump_features, write_atomically
from legacy_monolith.demo.processes import free_port

pytestmark = pytest.mark.django_db(transaction=True)


class Inbox:
    """The SMTP server the Notification service sends to: the messages it accepted."""

    def __init__(self):
        self.messages, self.lock = [], threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"

    def wait(self, count: int, timeout: float) -> list:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.messages) >= count:
                    return list(self.messages)
            time.sleep(0.1)
        return list(self.messages)


@pytest.fixture
def flag_on(tmp_path):
    path = tmp_path / "flags.json"
    features = [
        {"name": reset_mail.EMAILS_VIA_SERVICE_FLAG, "type": "release", "enabled": True, "strategies": []}
    ]
    write_atomically(path, dump_features({"version": 2, "features": features}))
    facade = Flags(FlagsConfig(flags_file=path, audit_log=tmp_path / "audit.log"))
    previous = reset_mail.use_flags(facade)
    yield
    reset_mail.use_flags(previous)
    facade.close()


def test_with_the_flag_on_the_notification_service_sends_the_reset_and_the_auth_service_mails_nothing(
    flag_on, tmp_path, settings
):
    settings.PASSWORD_RESET_URL = "https://shop.example/reset"
    user = User.objects.create_user(
        username="resetviaservice",
        email="reset-via-service@example.com",
        password="an-Old-pass-42",
        first_name="Ana",
    )
    password_reset_request(email=user.email)
    assert mail.outbox == []  # nothing through the Auth service's own backend
    [event] = OutboxEvent.objects.filter(type=ACCOUNT_PASSWORD_RESET_REQUESTED)
    assert event.data["user_id"] == settings.AUTH_USER_ID_OFFSET + user.pk

    inbox = Inbox()
    smtp = Controller(inbox, hostname="127.0.0.1", port=free_port())
    smtp.start()
    try:
        env = {"NOTIFICATION_SMTP_PORT": str(smtp.port)}
        with running_notification_stack(var_dir=tmp_path / "notification", env=env) as stack:
            settings.BROKER_URL, settings.BROKER_TRANSPORT_OPTIONS = stack.broker_url, {}
            call_command("relay_outbox", "--once", "--timeout", "30")
            [message] = inbox.wait(1, timeout=60)
    finally:
        smtp.stop()
    assert message["To"] == user.email
    links = [
        word for word in message.get_body(("plain",)).get_content().split() if word.startswith("https://")
    ]
    token = parse_qs(urlparse(links[0]).query)["token"][0]
    password_reset_confirm(token=token, new_password="a-New-enough-pass-42")
    user.refresh_from_db()
    assert user.check_password("a-New-enough-pass-42")
