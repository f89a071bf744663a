"""TesterOverride addon: a staff identity holding a signed override (contracts/override.py) is sent to a
route's target for its own requests, whatever the route's flag says, so testers use a new upstream before
any customer sees it.

- Honoured only when the request's identity (EdgeIdentity / JwtAuth) is the override's user AND has the
  staff or admin role; anyone else presenting one is ignored (routed as usual) and counted.
- The header and cookie never reach an upstream.
- A forced request's decision says mode "forced" (the audit line's `mode`), targets the route's target
  with the route's usual fallback, and is left out of the rollout judge's figures.
- Runs right after the Router (it needs the decision) and before IdentityHeader (which reads the upstream).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from dataclasses import dataclass
from http.cookies import SimpleCookie

from mitmproxy import ctx, exceptions, http
from prometheus_client import Counter

from contracts.override import COOKIE, HEADER, KEY_ENV, InvalidOverride, check_key, verify_override
from strangler_proxy.routes import ANONYMOUS, Decision
from strangler_proxy.routing import DECISION_KEY, IDENTITY_KEY, rewrite_to

logger = logging.getLogger(__name__)

OVERRIDE_KEY = "strangler.override"
STAFF_ROLES = frozenset({"staff", "admin"})

OVERRIDES = Counter(
    "strangler_tester_overrides",
    "Tester override attempts by outcome: honoured, ignored_customer (not the staff user it was minted "
    "for), invalid (bad signature, expired, malformed), not_covered (another route), disabled (no key).",
    ["route", "outcome"],
)


@dataclass(frozen=True, slots=True)
class OverrideMark:
    """flow.metadata["strangler.override"] of a forced request."""

    user_id: str
    route_id: str
    jti: str
    expires_at: int


def take_override(request: http.Request, header: str, cookie: str) -> str | None:
    """The override a request carries (header first), removed from the request either way."""
    value = request.headers.get(header)
    if header in request.headers:
        del request.headers[header]
    if "cookie" in request.headers:
        kept = []
        for part in request.headers.get_all("cookie"):
            jar = SimpleCookie()
            try:
                jar.load(part)
            except Exception:  # an unparsable Cookie header is the upstream's business
                kept.append(part)
                continue
            if cookie in jar:
                value = value or jar[cookie].value
                rest = "; ".join(f"{k}={m.coded_value}" for k, m in jar.items() if k != cookie)
                if rest:
                    kept.append(rest)
            else:
                kept.append(part)
        request.headers.set_all("cookie", kept)
    return value


def _count(route: str | None, outcome: str) -> None:
    OVERRIDES.labels(route or "none", outcome).inc()


class TesterOverride:
    """Options: strangler_override_key (TESTER_OVERRIDE_KEY; empty = no override honoured)."""

    def __init__(self) -> None:
        self.key: bytes | None = None

    def load(self, loader) -> None:
        loader.add_option(
            "strangler_override_key",
            str,
            os.environ.get(KEY_ENV, ""),
            "HMAC key of tester overrides (at least 32 characters); empty: none is honoured.",
        )

    def configure(self, updated: set[str]) -> None:
        if "strangler_override_key" not in updated:
            return
        raw = ctx.options.strangler_override_key
        try:
            self.key = check_key(raw) if raw else None
        except ValueError as exc:
            raise exceptions.OptionsError(str(exc)) from None

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        if flow.response or flow.error:
            return
        value = take_override(flow.request, HEADER, COOKIE)
        if value is None:
            return
        decision: Decision | None = flow.metadata.get(DECISION_KEY)
        route_id = decision.route_id if decision else None
        if self.key is None:
            _count(route_id, "disabled")
            return
        try:
            grant = verify_override(self.key, value, now=time.time())
        except InvalidOverride as exc:
            _count(route_id, "invalid")
            logger.info("tester override refused (%s) on %s", exc.reason, route_id)
            return
        identity = flow.metadata.get(IDENTITY_KEY, ANONYMOUS)
        if identity.user_id != grant.user_id or not STAFF_ROLES & set(identity.roles):
            _count(route_id, "ignored_customer")
            logger.warning(
                "tester override of user %s presented by %s (roles %s): ignored",
                grant.user_id,
                identity.user_id or "anonymous",
                ",".join(identity.roles) or "none",
            )
            return
        route = self._route(route_id)
        if decision is None or route is None or route.target is None or not grant.covers(route.id):
            _count(route_id, "not_covered")
            return
        fallback = route.legacy if route.fallback and route.legacy is not None else None
        forced = dataclasses.replace(
            decision, mode="forced", flag_enabled=True, upstream=route.target, fallback=fallback, shadow=None
        )
        flow.metadata[DECISION_KEY] = forced
        flow.metadata[OVERRIDE_KEY] = OverrideMark(grant.user_id, route.id, grant.jti, grant.expires_at)
        rewrite_to(flow.request, route.target)
        _count(route.id, "honoured")

    @staticmethod
    def _route(route_id: str | None):
        router = ctx.master.addons.get("router")
        table = getattr(router, "table", None)
        if route_id is None or table is None:
            return None
        return next((r for r in table.routes if r.id == route_id), None)
