"""Replay guards: remember one-time ids until they expire (contracts.identity.ReplayGuard).

`RedisReplayGuard` is the one every verifier shares (SET NX with the id's own expiry: one round trip, and
the first verifier to see an id wins everywhere); `MemoryReplayGuard` is one process's own, for the
embedded profile without Redis (a replay to another process goes unnoticed there, which the README says).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable

DEFAULT_PREFIX = "strangler:identity:nid:"


class RedisReplayGuard:
    """`client` is a redis-py client (sync). Errors propagate: the caller refuses the value."""

    def __init__(self, client, *, prefix: str = DEFAULT_PREFIX) -> None:
        self.client = client
        self.prefix = prefix

    def first_use(self, nid: str, expires_at: int) -> bool:
        # Kept one second past the value's expiry, so a value is never accepted again while it is valid.
        return bool(self.client.set(self.prefix + nid, b"1", nx=True, exat=int(expires_at) + 1))


class MemoryReplayGuard:
    """At most `max_entries` ids (the oldest dropped first; expired ones pruned as new ones come)."""

    def __init__(self, *, max_entries: int = 100_000, clock: Callable[[], float] = time.time) -> None:
        self.max_entries = max_entries
        self.clock = clock
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def first_use(self, nid: str, expires_at: int) -> bool:
        now = self.clock()
        with self._lock:
            while self._seen and next(iter(self._seen.values())) < now:
                self._seen.popitem(last=False)
            if nid in self._seen:
                return False
            self._seen[nid] = expires_at + 1
            while len(self._seen) > self.max_entries:
                self._seen.popitem(last=False)
            return True
