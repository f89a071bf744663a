"""Signed checkpoints: the head of a chain (entry count and last hash, with the time), signed with the
log's key and written to a store that is not the log's own. Whoever rewrites a whole log, even with the
key, cannot make its entries agree with checkpoints written before; whoever forges a checkpoint without
the key is caught by its signature.

Stores (`open_checkpoints`): a JSON-lines file (`/path` or `file:///path`; keep it on another volume or
host than the log in production) or Redis (`redis://host:port/db`, one list per chain, the newest
REDIS_KEEP kept). The Auth service adds a table of its own; anything with `add`, `checkpoints` and
`latest` will do. Writers checkpoint the first entry, then at most every `every_seconds`, and on close.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from .chain import CHECKPOINT_PURPOSE, AuditConfigError, AuditKey, ChainHead

logger = logging.getLogger(__name__)

REDIS_PREFIX = "strangler:audit:checkpoints:"
REDIS_KEEP = 100_000
REDIS_TIMEOUT_SECONDS = 2.0
DEFAULT_EVERY_SECONDS = 10.0


class CheckpointStoreError(OSError):
    """A checkpoint store that cannot be read (unreachable, or holding a line that is not a checkpoint)."""


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class Checkpoint:
    chain: str
    seq: int
    hash: str
    at: str
    sig: str = ""

    def fields(self) -> dict[str, Any]:
        return {"chain": self.chain, "entries": self.seq, "hash": self.hash, "at": self.at}

    @classmethod
    def make(cls, key: AuditKey, chain: str, head: ChainHead, at: str | None = None) -> Checkpoint:
        unsigned = cls(chain, head.seq, head.hash, at or now_iso())
        return cls(chain, head.seq, head.hash, unsigned.at, key.sign(CHECKPOINT_PURPOSE, unsigned.fields()))

    def signed_by(self, key: AuditKey) -> bool:
        return key.signed(CHECKPOINT_PURPOSE, self.fields(), self.sig)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, raw: str | bytes, where: str) -> Checkpoint:
        try:
            data = json.loads(raw)
            return cls(
                str(data["chain"]), int(data["seq"]), str(data["hash"]), str(data["at"]), str(data["sig"])
            )
        except (ValueError, KeyError, TypeError):
            raise CheckpointStoreError(f"{where} holds a line that is not a checkpoint (edited)") from None


class CheckpointStore(Protocol):
    def add(self, checkpoint: Checkpoint) -> None: ...
    def checkpoints(self, chain: str) -> list[Checkpoint]:
        """Every checkpoint of `chain`, oldest first."""
        ...

    def latest(self, chain: str) -> Checkpoint | None: ...


class FileCheckpoints:
    """JSON lines, appended under an exclusive lock and fsynced; one file may hold many chains."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def __str__(self) -> str:
        return str(self.path)

    def add(self, checkpoint: Checkpoint) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "ab") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            handle.write(checkpoint.to_json().encode() + b"\n")
            handle.flush()
            os.fsync(handle.fileno())

    def checkpoints(self, chain: str) -> list[Checkpoint]:
        try:
            with open(self.path, "rb") as handle:
                lines = [line for line in handle if line.strip()]
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise CheckpointStoreError(f"cannot read the checkpoint store {self.path}: {exc}") from None
        found = [Checkpoint.from_json(line, f"checkpoint store {self.path.name}") for line in lines]
        return sorted((c for c in found if c.chain == chain), key=lambda c: c.seq)

    def latest(self, chain: str) -> Checkpoint | None:
        found = self.checkpoints(chain)
        return found[-1] if found else None


class RedisCheckpoints:
    """One Redis list per chain (`strangler:audit:checkpoints:<chain>`), capped at the newest `keep`."""

    def __init__(self, url: str, *, prefix: str = REDIS_PREFIX, keep: int = REDIS_KEEP) -> None:
        import redis

        self.url, self.prefix, self.keep = url, prefix, keep
        self._errors = redis.RedisError
        self.client = redis.Redis.from_url(
            url, socket_timeout=REDIS_TIMEOUT_SECONDS, socket_connect_timeout=REDIS_TIMEOUT_SECONDS
        )

    def __str__(self) -> str:
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.hostname}:{parts.port or 6379}{parts.path}"  # no password

    def add(self, checkpoint: Checkpoint) -> None:
        key = self.prefix + checkpoint.chain
        try:
            pipe = self.client.pipeline(transaction=True)
            pipe.rpush(key, checkpoint.to_json())
            pipe.ltrim(key, -self.keep, -1)
            pipe.execute()
        except self._errors as exc:
            raise CheckpointStoreError(f"cannot write to the checkpoint store {self}: {exc}") from None

    def checkpoints(self, chain: str) -> list[Checkpoint]:
        try:
            rows = self.client.lrange(self.prefix + chain, 0, -1)
        except self._errors as exc:
            raise CheckpointStoreError(f"cannot read the checkpoint store {self}: {exc}") from None
        found = [Checkpoint.from_json(row, f"checkpoint store {self}") for row in rows]
        return sorted(found, key=lambda c: c.seq)

    def latest(self, chain: str) -> Checkpoint | None:
        found = self.checkpoints(chain)
        return found[-1] if found else None


def open_checkpoints(url: str, *, default: Path) -> FileCheckpoints | RedisCheckpoints:
    """The store a setting names: "" (the `default` file), a path or file:// URL, or a redis:// URL."""
    if not url:
        return FileCheckpoints(default)
    parts = urlsplit(url)
    if parts.scheme in ("redis", "rediss", "unix"):
        return RedisCheckpoints(url)
    if parts.scheme == "file":
        return FileCheckpoints(Path(parts.path))
    if parts.scheme == "":
        return FileCheckpoints(Path(url))
    raise AuditConfigError(f"a checkpoint store is a file path or a redis:// URL, not {url!r}")


class Checkpointer:
    """Writes a chain's checkpoints: its first entry, then at most every `every_seconds`, and whenever
    forced (a writer closing). A store that fails is logged and tried again with the next entry; the
    entries are never held back by it. `remember=False` asks the store for its latest checkpoint each time
    (a store inside the log's own transaction, which a rollback may undo)."""

    def __init__(
        self,
        store: CheckpointStore,
        key: AuditKey,
        chain: str,
        *,
        every_seconds: float = DEFAULT_EVERY_SECONDS,
        remember: bool = True,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store, self.key, self.chain = store, key, chain
        self.every_seconds, self.remember, self.clock = every_seconds, remember, clock
        self._last: tuple[int, float] | None = None  # (seq, clock) of the last checkpoint written
        self._loaded = False

    def note(self, head: ChainHead, *, force: bool = False) -> Checkpoint | None:
        if head.seq < 1:
            return None
        last = self._last_written()
        if last is not None:
            seq, at = last
            if seq >= head.seq or (not force and self.clock() - at < self.every_seconds):
                return None
        checkpoint = Checkpoint.make(self.key, self.chain, head)
        try:
            self.store.add(checkpoint)
        except OSError as exc:
            logger.warning("audit checkpoint of %s not written: %s", self.chain, exc)
            return None
        self._last = (head.seq, self.clock())
        return checkpoint

    def _last_written(self) -> tuple[int, float] | None:
        if self.remember and self._loaded:
            return self._last
        self._loaded = True
        try:
            latest = self.store.latest(self.chain)
        except OSError as exc:
            logger.warning("audit checkpoints of %s unreadable: %s", self.chain, exc)
            return self._last
        if latest is None:
            self._last = None
        else:
            at = datetime.fromisoformat(latest.at.replace("Z", "+00:00")).timestamp()
            self._last = (latest.seq, at)
        return self._last
