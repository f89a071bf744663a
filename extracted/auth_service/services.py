"""Writes: password login (with lockout and audit), password change, account unlock."""

from __future__ import annotations

from django.contrib.auth import password_validation
from django.contrib.auth.hashers import identify_hasher, make_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from chassis.lockout import AccountLocked, login_failure_record, login_lock_check, login_throttle_clear
from contracts.errors import ApplicationError
from contracts.policies import Resource, Subject, policy_enforce

from .accounts.publish import user_changed
from .accounts.services import password_store
from .audit import Event, audit_record
from .models import User
from .sessions import refresh_tokens_revoke


def _invalid_credentials() -> ApplicationError:
    return ApplicationError("invalid_credentials", "Invalid username/email or password", status=401)


def _hasher_of(encoded: str) -> str:
    try:
        return identify_hasher(encoded).algorithm
    except ValueError:
        return "unusable"


def _user_find(username: str) -> User | None:
    """By username, or by email when it looks like one (the monolith's rule)."""
    user = User.objects.filter(username=username).first()
    if user is None and "@" in username:
        user = User.objects.filter(email__iexact=username).order_by("id").first()
    return user


def user_authenticate(*, username: str, password: str, ip: str = "") -> User:
    """The user these credentials belong to, after the lockout check; every outcome is audited.

    A locked username answers 423 account_locked without its password being checked. A failure counts
    towards the lock whether the account exists or not; the failure that reaches the threshold already
    answers 423. A PBKDF2 hash synced from the monolith is re-hashed with Argon2id on success."""
    now = timezone.now()
    audit = {"username": username, "ip": ip}
    user = _user_find(username)
    throttle = user.username if user else username  # one counter per account, by username or email
    try:
        login_lock_check(username=throttle, now=now)
    except AccountLocked:
        audit_record(
            event=Event.LOGIN,
            outcome="failed",
            reason="account_locked",
            user_id=user.pk if user else None,
            **audit,
        )
        raise
    if user is None:
        make_password(password)  # cost a real check, so timing does not reveal unknown users
    before = _hasher_of(user.password) if user else ""
    if user is None or not user.check_password(password):  # check_password upgrades an old hash
        audit_record(
            event=Event.LOGIN,
            outcome="failed",
            reason="invalid_credentials",
            user_id=user.pk if user else None,
            **audit,
        )
        state = login_failure_record(username=throttle, now=now)
        if state.is_locked(now):
            audit_record(
                event=Event.LOCKOUT,
                outcome="locked",
                reason="too_many_failures",
                user_id=user.pk if user else None,
                data={"failures": state.failures, "unlock_at": state.locked_until.isoformat()},
                **audit,
            )
            raise AccountLocked(unlock_at=state.locked_until, now=now)
        raise _invalid_credentials()
    if not user.is_active:
        audit_record(event=Event.LOGIN, outcome="failed", reason="account_inactive", user_id=user.pk, **audit)
        raise ApplicationError("account_inactive", "This account is disabled", status=403)
    after = _hasher_of(user.password)
    if after != before:
        audit_record(
            event=Event.PASSWORD_REHASHED, user_id=user.pk, data={"from": before, "to": after}, **audit
        )
    login_throttle_clear(username=throttle, now=now)
    User.objects.filter(pk=user.pk).update(last_login=now)
    user.last_login = now
    audit_record(event=Event.LOGIN, outcome="ok", user_id=user.pk, **audit)
    return user


def user_change_password(*, user: User, current_password: str, new_password: str, ip: str = "") -> None:
    """Change a password after checking the current one (the new hash is Argon2id) and revoke the
    user's refresh tokens."""
    if not user.check_password(current_password):
        audit_record(
            event=Event.PASSWORD_CHANGED,
            outcome="failed",
            reason="invalid_current_password",
            username=user.username,
            user_id=user.pk,
            ip=ip,
        )
        raise ApplicationError("invalid_credentials", "The current password is wrong", status=400)
    try:
        password_validation.validate_password(new_password, user)
    except ValidationError as exc:
        raise ApplicationError(
            "weak_password", "The new password was refused", extra={"reasons": exc.messages}
        ) from None
    with transaction.atomic():
        password_store(user, new_password)  # Argon2id here, PBKDF2 for the monolith (published)
        user_changed(user, update_fields=["password", "legacy_password"])
        # Sessions elsewhere end: every refresh token of the user is revoked (access tokens run out).
        revoked = refresh_tokens_revoke(user)
        audit_record(
            event=Event.PASSWORD_CHANGED,
            username=user.username,
            user_id=user.pk,
            ip=ip,
            data={"refresh_tokens_revoked": revoked},
        )


def account_unlock(*, actor: Subject, user: User, ip: str = "") -> bool:
    """Lift the lock of `user` if the ABAC policy lets `actor` do it."""
    policy_enforce(
        subject=actor,
        action="account.unlock",
        resource=Resource("account", str(user.pk), {"role": user.role}),
    )
    was_locked = login_throttle_clear(username=user.username, now=timezone.now())
    audit_record(
        event=Event.UNLOCK,
        username=user.username,
        user_id=user.pk,
        ip=ip,
        data={"by": actor.id, "was_locked": was_locked},
    )
    return was_locked


def user_get(*, user_id: int) -> User:
    user = User.objects.filter(pk=user_id).first()
    if user is None:
        raise ApplicationError(
            "user_not_found", f"User {user_id} does not exist", extra={"id": user_id}, status=404
        )
    return user
