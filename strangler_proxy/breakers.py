"""Circuit breakers per (route, upstream), their state shared by every worker of one gateway.

Each worker keeps its own kernel.resilience.CircuitBreaker per (route, upstream) and counts its own calls;
what it shares is the verdict. When a worker's breaker opens or closes, it writes (state, when) into a
board of 64-bit words that the supervising parent created (a memfd every worker maps: see
server/supervisor.py). Before each call a worker reads its breaker's word, one memory load, and takes on
a newer state another worker wrote (CircuitBreaker.adopt): an outage that one worker sees opens the
breaker in all of them, and the first trial call that succeeds closes it everywhere. Half-open trials stay
per worker (at most `half_open_calls` each). No lock on the hot path: a word is written by one aligned
8-byte store; a slot is claimed for a key once, under an fcntl lock on the board.

Without a board (plain mitmdump, tests) the breakers are the process's own, as before.
Times are time.monotonic() (CLOCK_MONOTONIC: one clock for every process of the machine).
"""

from __future__ import annotations

import dataclasses
import fcntl
import hashlib
import logging
import mmap
import os
import struct
import time
from collections.abc import Callable

from kernel.resilience import BreakerConfig, BreakerState, CircuitBreaker

logger = logging.getLogger(__name__)

BreakerKey = tuple[str, str]  # (route id, or "default" for unmatched requests; upstream name)
Overrides = tuple[tuple[str, float], ...]  # routes.yaml `breaker:` fields, as BreakerConfig field names
DEFAULT_ROUTE = "default"
BOARD_SLOTS = 4096
_MAGIC = 0x5354524E42524B31  # "STRNBRK1"
_HEADER = struct.Struct("=QQ")  # magic, slots
_STATES = (BreakerState.CLOSED, BreakerState.HALF_OPEN, BreakerState.OPEN)
_CODE = {state: code for code, state in enumerate(_STATES)}


def encode(state: BreakerState, since: float) -> int:
    """A board word: milliseconds of the monotonic clock, shifted, with the state in the low two bits."""
    return (max(0, int(since * 1000)) << 2) | _CODE[state]


def decode(word: int) -> tuple[BreakerState, float]:
    return _STATES[word & 3], (word >> 2) / 1000


def fingerprint(key: BreakerKey) -> int:
    digest = hashlib.blake2b("\0".join(key).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") | 1  # never 0, which marks a free slot


class SharedBoard:
    """A header and BOARD_SLOTS (fingerprint, word) pairs of unsigned 64-bit integers in a shared file."""

    def __init__(self, fd: int, slots: int) -> None:
        self.fd = fd
        self.slots = slots
        self._map = mmap.mmap(fd, _HEADER.size + 16 * slots)
        self._words = memoryview(self._map)[_HEADER.size :].cast("Q")
        self._index: dict[BreakerKey, int] = {}

    @classmethod
    def create(cls, slots: int = BOARD_SLOTS) -> SharedBoard:
        """A new board in an anonymous memory file; its `fd` is inheritable, to be passed to workers."""
        fd = os.memfd_create("strangler-breakers", 0)
        os.ftruncate(fd, _HEADER.size + 16 * slots)
        board = cls(fd, slots)
        _HEADER.pack_into(board._map, 0, _MAGIC, slots)
        return board

    @classmethod
    def attach(cls, fd: int) -> SharedBoard:
        """The board a parent created, from the inherited `fd`; ValueError if it is not one."""
        header = os.pread(fd, _HEADER.size, 0)
        if len(header) != _HEADER.size:
            raise ValueError("the breaker board is too short")
        magic, slots = _HEADER.unpack(header)
        if magic != _MAGIC or not 0 < slots <= 1 << 20:
            raise ValueError("the breaker board has an unknown format")
        return cls(fd, slots)

    def slot(self, key: BreakerKey) -> int | None:
        """The index of `key`'s word, claimed on first use; None when the board is full."""
        index = self._index.get(key)
        if index is not None:
            return index
        mark = fingerprint(key)
        words, slots = self._words, self.slots
        fcntl.lockf(self.fd, fcntl.LOCK_EX)
        try:
            start = mark % slots
            for step in range(slots):
                i = (start + step) % slots
                if words[2 * i] == 0:
                    words[2 * i + 1] = 0
                    words[2 * i] = mark
                if words[2 * i] == mark:
                    self._index[key] = 2 * i + 1
                    return 2 * i + 1
        finally:
            fcntl.lockf(self.fd, fcntl.LOCK_UN)
        return None

    def read(self, index: int) -> int:
        return self._words[index]

    def write(self, index: int, word: int) -> None:
        self._words[index] = word

    def close(self) -> None:
        self._words.release()
        self._map.close()


_attached: SharedBoard | None = None


def attach_shared_board(fd: int) -> None:
    """Called once in a worker process, before its addons are configured."""
    global _attached
    _attached = SharedBoard.attach(fd)


def shared_board() -> SharedBoard | None:
    return _attached


Listener = Callable[[BreakerKey, BreakerState], None]


class Breakers:
    """Every breaker of one Forwarder, by (route, upstream). `get` returns it up to date with the board."""

    def __init__(
        self,
        default: BreakerConfig,
        *,
        board: SharedBoard | None = None,
        clock: Callable[[], float] = time.monotonic,
        on_change: Listener | None = None,
    ) -> None:
        self.default = default
        self.board = board
        self._clock = clock
        self._on_change = on_change
        self._breakers: dict[BreakerKey, CircuitBreaker] = {}
        self._slots: dict[BreakerKey, int | None] = {}
        self._seen: dict[BreakerKey, int] = {}
        self._configs: dict[Overrides, BreakerConfig] = {}
        self._adopting = False

    def config(self, overrides: Overrides) -> BreakerConfig:
        found = self._configs.get(overrides)
        if found is None:
            found = self._configs[overrides] = dataclasses.replace(self.default, **dict(overrides))
        return found

    def get(self, route_id: str | None, upstream: str, overrides: Overrides = ()) -> CircuitBreaker:
        key = (route_id or DEFAULT_ROUTE, upstream)
        breaker = self._breakers.get(key)
        if breaker is None:
            breaker = self._breakers[key] = CircuitBreaker(
                f"{key[0]}->{upstream}",
                self.config(overrides),
                clock=self._clock,
                on_change=lambda _name, _old, new, key=key: self._changed(key, new),
            )
            if self._on_change is not None:
                self._on_change(key, BreakerState.CLOSED)
            if self.board is not None:
                slot = self._slots[key] = self.board.slot(key)
                if slot is None:
                    logger.warning("breaker board full: the breaker of %s->%s is this worker's own", *key)
                self._seen[key] = 0
        if self.board is not None:
            slot = self._slots[key]
            if slot is not None:
                word = self.board.read(slot)
                if word != self._seen[key]:
                    self._seen[key] = word
                    state, since = decode(word)
                    self._adopting = True
                    try:
                        breaker.adopt(state, since)
                    finally:
                        self._adopting = False
        return breaker

    def _changed(self, key: BreakerKey, new: BreakerState) -> None:
        if self._on_change is not None:
            self._on_change(key, new)
        if self.board is None or self._adopting or new is BreakerState.HALF_OPEN:
            return
        slot = self._slots.get(key)
        if slot is None:
            return
        breaker = self._breakers[key]
        since = breaker.opened_at if new is BreakerState.OPEN else self._clock()
        word = self._seen[key] = encode(new, since)
        self.board.write(slot, word)

    def __iter__(self):
        return iter(self._breakers.items())
