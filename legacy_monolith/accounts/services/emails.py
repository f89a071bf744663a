"""The account emails (welcome, password reset) while they move to the Notification service.

Flag `monolith.accounts.emails_via_service` (off in the bootstrap): off, the monolith sends them as it always
did (a password reset by Django's mail backend; it has never sent a welcome); on, it sends nothing itself and
writes the `account.*` event of contracts/notifications.py through its outbox, in the transaction of the
registration or reset request, so the event exists exactly when the change committed and the relay publishes
it (the service sends it once per event id). The flag is read once per request, so one request never does
both.
"""

from __future__ import annotations

from django.conf import settings
from django.db import transaction

from chassis.logging import trace_id_var
from flags import FlagContext
from migrations_data.models import OutboxEvent

from ..models import AccountEmail, User

EMAILS_VIA_SERVICE_FLAG = "monolith.accounts.emails_via_service"


def emails_via_service(user: User) -> bool:
    from flags.shared import shared_flags  # the process's one flags facade

    return shared_flags().is_enabled(EMAILS_VIA_SERVICE_FLAG, FlagContext(user_id=str(user.pk)))


def account_email_publish(*, kind: str, user: User, reset_url: str = "") -> AccountEmail:
    """Record the email for the Notification service and its outbox row; inside the caller's transaction."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("account_email_publish must run inside the change's transaction")
    mail = AccountEmail.objects.create(
        kind=kind,
        user_id=user.pk,
        email=user.email,
        first_name=user.first_name,
        locale=settings.ACCOUNT_EMAIL_LOCALE,
        reset_url=reset_url,
    )
    trace_id = trace_id_var.get()
    OutboxEvent.objects.create(
        entity=OutboxEvent.Entity.ACCOUNT_EMAIL,
        entity_id=mail.pk,
        op="upsert",
        version=mail.pk,
        trace_id=trace_id if len(trace_id) == 32 else "",
    )
    return mail


def password_reset_url(key: str) -> str:
    return f"{settings.PASSWORD_RESET_URL}?token={key}"
