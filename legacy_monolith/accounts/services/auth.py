"""Credentials check, session login/logout and legacy opaque API tokens."""

import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import login, logout
from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from chassis.lockout import AccountLocked, login_failure_record, login_lock_check, login_throttle_clear
from legacy_monolith.core.errors import ApplicationError

from ..authentication import token_hash
from ..models import ApiToken, User

log = logging.getLogger(__name__)
MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"
TOKEN_PREFIX_LENGTH = 8  # ApiToken.key_prefix: lets a user or support tell tokens apart without the key


@dataclass(frozen=True)
class IssuedToken:
    """A freshly minted token: `key` exists only here, the database keeps its SHA-256."""

    token: ApiToken
    key: str


def _invalid_credentials() -> ApplicationError:
    return ApplicationError("invalid_credentials", "Invalid username/email or password", status=401)


def user_authenticate(*, username: str, password: str) -> User:
    """The user these credentials belong to, after the lockout check. `username` may be the username or
    the email address.

    Unknown user and wrong password fail alike (401 invalid_credentials), in about the same time, and both
    count towards the lockout the Auth service applies (chassis.lockout: same settings, same counter, so
    moving `route.auth.login` resets nothing). A locked username is 423 account_locked without its password
    being checked; the failure that reaches the threshold already answers 423; a success clears the count.
    A disabled account is told so (403 account_inactive) only to someone who knows its password.
    """
    now = timezone.now()
    user = User.objects.filter(username=username).first()
    if user is None and "@" in username:
        user = User.objects.filter(email__iexact=username).order_by("id").first()
    throttle = user.username if user else username  # one counter per account, by username or email
    login_lock_check(username=throttle, now=now)
    if user is None:
        make_password(password)  # the hashing a real check costs, so timing does not reveal unknown users
    if user is None or not user.check_password(password):  # also re-hashes outdated PBKDF2 parameters
        state = login_failure_record(username=throttle, now=now)
        if state.is_locked(now):
            log.warning(
                "account locked after %d failed logins until %s",
                state.failures,
                state.locked_until.isoformat(),
                extra={"username": throttle, "user_id": user.pk if user else None},
            )
            raise AccountLocked(unlock_at=state.locked_until, now=now)
        raise _invalid_credentials()
    if not user.is_active:
        raise ApplicationError("account_inactive", "This account is disabled", status=403)
    login_throttle_clear(username=throttle, now=now)
    return user


def legacy_credentials_check_on() -> None:
    """410 legacy_credentials_retired once LEGACY_CREDENTIALS is off: no new session or opaque token."""
    if not settings.LEGACY_CREDENTIALS:
        raise ApplicationError(
            "legacy_credentials_retired",
            "Sessions and API tokens of this service are turned off: log in at the Auth service",
            status=410,
        )


def user_login(*, request: HttpRequest, username: str, password: str) -> User:
    """Open a Django session for these credentials. Django's login() gives the session a new key (no
    fixation) and rotates the CSRF secret; the session slides by SESSION_COOKIE_AGE on every request."""
    legacy_credentials_check_on()
    user = user_authenticate(username=username, password=password)
    login(request, user, backend=MODEL_BACKEND)
    return user


def user_logout(*, request: HttpRequest) -> None:
    """Flush the session (data and key). Idempotent: logging out without a session is a no-op."""
    logout(request)


def api_token_create(*, user: User, name: str = "default") -> IssuedToken:
    """Mint a legacy opaque token valid for LEGACY_TOKEN_TTL_SECONDS. Not idempotent by design: the key
    is shown once and never stored, so a replay cannot return it; each call is a new token."""
    key = secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user,
        name=name,
        key_prefix=key[:TOKEN_PREFIX_LENGTH],
        key_hash=token_hash(key),
        expires_at=timezone.now() + timedelta(seconds=settings.LEGACY_TOKEN_TTL_SECONDS),
    )
    return IssuedToken(token=token, key=key)


@transaction.atomic
def api_token_login(*, username: str, password: str, name: str = "default") -> IssuedToken:
    """Check credentials (same rules as the session login) and mint a token for that user."""
    legacy_credentials_check_on()
    user = user_authenticate(username=username, password=password)
    User.objects.filter(pk=user.pk).update(last_login=timezone.now())
    return api_token_create(user=user, name=name)


def api_token_revoke(*, token: ApiToken) -> None:
    """Revoke a token from now on. Idempotent: revoking a revoked token keeps its first revocation time."""
    now = timezone.now()
    if ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=now):
        token.revoked_at = now
