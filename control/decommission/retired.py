"""Which monolith URLconf entries are retired, for the monolith's RetiredEndpointsMiddleware: read from the
control database's applied or finalized decommissions, remembered for `ttl` seconds per process so a
request costs a dictionary lookup (an `apply` or `restore` shows within a second in every worker).

When the control database cannot be read (down, not migrated, or a test that gives it no access), the last
answer stands (nothing retired before the first read): the monolith keeps serving rather than failing
every request over its control plane."""

from __future__ import annotations

import logging
import threading
import time

from control.models import Decommission

logger = logging.getLogger(__name__)
DEFAULT_TTL = 1.0
WARN_EVERY = 60.0  # seconds between two warnings that the control database cannot be read


def load_retired() -> dict[tuple[str, str], str]:
    """{(view name, method): route} of every retired entry."""
    retired: dict[tuple[str, str], str] = {}
    for route, entries in Decommission.objects.filter(state__in=Decommission.RETIRED).values_list(
        "route", "entries"
    ):
        for entry in entries or []:
            for method in entry.get("methods") or []:
                retired[(entry["view"], method)] = route
    return retired


class RetiredEntries:
    def __init__(self, *, ttl: float = DEFAULT_TTL, clock=time.monotonic) -> None:
        self.ttl, self.clock = ttl, clock
        self._lock = threading.Lock()
        self._known: dict[tuple[str, str], str] = {}
        self._until = 0.0
        self._quiet_until = 0.0

    def route_of(self, view: str, method: str) -> str | None:
        """The route whose decommission retired this entry's method (None: it is served)."""
        now = self.clock()
        if now >= self._until:
            with self._lock:
                if now >= self._until:
                    try:
                        self._known = load_retired()
                    except Exception as exc:  # any failure: keep serving (see above)
                        if now >= self._quiet_until:
                            logger.warning("retired entries unreadable, the last known stand: %s", exc)
                            self._quiet_until = now + WARN_EVERY
                    self._until = now + self.ttl
        return self._known.get((view, method))

    def forget(self) -> None:
        self._until = 0.0


RETIRED = RetiredEntries()
