"""Legacy credentials during the auth cutover: how many sessions and opaque API tokens are still live,
and expiring them in batches once their users have JWTs (the auth service's token exchange).

Batches keep each statement short (a few hundred rows by primary key), so expiring a large table never
holds long locks; `idle_for` limits a pass to credentials unused for that long (a session's last use is
its expiry minus SESSION_COOKIE_AGE, since sessions slide on every request).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.sessions.models import Session
from django.db.models import Q
from django.utils import timezone

from .models import ApiToken

KINDS = ("sessions", "tokens")


@dataclass(frozen=True)
class LegacyCredentialsReport:
    sessions: int  # live Django sessions (each is a logged-in browser)
    tokens: int  # live opaque API tokens (not revoked, not expired)
    token_users: int  # distinct users holding a live token
    sessions_idle: int | None = None  # of those, unused for at least idle_for (when asked)
    tokens_idle: int | None = None

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class ExpiryResult:
    sessions_expired: int
    tokens_revoked: int
    batches: int
    dry_run: bool

    def to_dict(self) -> dict:
        return asdict(self)


def _live_sessions(now: datetime, idle_for: timedelta | None):
    sessions = Session.objects.filter(expire_date__gt=now)
    if idle_for is not None:  # last use = expire_date - SESSION_COOKIE_AGE <= now - idle_for
        sessions = sessions.filter(
            expire_date__lte=now - idle_for + timedelta(seconds=settings.SESSION_COOKIE_AGE)
        )
    return sessions


def _live_tokens(now: datetime, idle_for: timedelta | None):
    tokens = ApiToken.objects.filter(revoked_at__isnull=True, expires_at__gt=now)
    if idle_for is not None:
        before = now - idle_for
        tokens = tokens.filter(
            Q(last_used_at__lte=before) | Q(last_used_at__isnull=True, created_at__lte=before)
        )
    return tokens


def legacy_credentials_report(*, idle_for: timedelta | None = None) -> LegacyCredentialsReport:
    now = timezone.now()
    tokens = _live_tokens(now, None)
    return LegacyCredentialsReport(
        sessions=_live_sessions(now, None).count(),
        tokens=tokens.count(),
        token_users=tokens.values("user_id").distinct().count(),
        sessions_idle=_live_sessions(now, idle_for).count() if idle_for is not None else None,
        tokens_idle=_live_tokens(now, idle_for).count() if idle_for is not None else None,
    )


def legacy_credentials_expire(
    *,
    kinds: tuple[str, ...] = KINDS,
    batch_size: int = 500,
    limit: int | None = None,
    idle_for: timedelta | None = None,
    pause_seconds: float = 0.0,
    dry_run: bool = False,
    on_batch: Callable[[str, int], None] = lambda kind, count: None,
) -> ExpiryResult:
    """Delete live sessions and revoke live tokens, `batch_size` at a time, at most `limit` of each kind.
    A dry run counts what would go and changes nothing."""
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    done = {"sessions": 0, "tokens": 0}
    batches = 0
    for kind in kinds:
        while limit is None or done[kind] < limit:
            now = timezone.now()
            size = batch_size if limit is None else min(batch_size, limit - done[kind])
            if kind == "sessions":
                live = _live_sessions(now, idle_for).order_by("expire_date", "session_key")
                keys = list(live.values_list("session_key", flat=True)[done[kind] if dry_run else 0 :][:size])
                if keys and not dry_run:
                    Session.objects.filter(session_key__in=keys).delete()
            else:
                live = _live_tokens(now, idle_for).order_by("id")
                keys = list(live.values_list("id", flat=True)[done[kind] if dry_run else 0 :][:size])
                if keys and not dry_run:
                    ApiToken.objects.filter(id__in=keys, revoked_at__isnull=True).update(revoked_at=now)
            if not keys:
                break
            done[kind] += len(keys)
            batches += 1
            on_batch(kind, len(keys))
            if pause_seconds:
                time.sleep(pause_seconds)
    return ExpiryResult(done["sessions"], done["tokens"], batches, dry_run)


LOGIN_FLAG = "route.auth.login"


@dataclass(frozen=True)
class RetireCheck:
    """May legacy sessions and tokens be turned off (LEGACY_CREDENTIALS, GATEWAY_LEGACY_CREDENTIALS,
    AUTH_LEGACY_CREDENTIALS)? Only once every login is the Auth service's and no legacy credential is live."""

    login_percentage: int
    report: LegacyCredentialsReport
    reasons: tuple[str, ...]

    @property
    def ready(self) -> bool:
        return not self.reasons

    def to_dict(self) -> dict:
        return {
            "ready": self.ready,
            "login_percentage": self.login_percentage,
            "report": self.report.to_dict(),
            "reasons": list(self.reasons),
        }


def legacy_credentials_retire_check(*, login_percentage: int) -> RetireCheck:
    """`login_percentage`: route.auth.login's rollout now (the flags store's effective percentage)."""
    report = legacy_credentials_report()
    reasons = []
    if login_percentage < 100:
        reasons.append(f"{LOGIN_FLAG} is at {login_percentage}%, not 100%: the monolith still logs users in")
    if report.sessions:
        reasons.append(f"{report.sessions} legacy sessions are live (legacy_sessions expire --kind sessions)")
    if report.tokens:
        reasons.append(
            f"{report.tokens} legacy API tokens of {report.token_users} users are live "
            "(legacy_sessions expire --kind tokens)"
        )
    return RetireCheck(login_percentage, report, tuple(reasons))
