"""The chain itself: canonical JSON entries, each carrying `seq` (its position), `prev_hash` (the hash of
the entry before, GENESIS for the first) and its own `hash`, an HMAC-SHA256 under the log's key over
everything else. Without the key nobody can write an entry that verifies, so a rewritten log is caught.

Chains written before keys existed hashed with plain SHA-256 and had no `seq` (`entry_hash`); a writer that
finds one appends a link entry (`link_fields`), the first keyed entry, whose `prev_hash` is the old head:
the keyed chain then vouches for the old entries it follows.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

GENESIS = "0" * 64
SCHEME = "hmac-sha256"
LEGACY_SCHEME = "sha256"
MIN_KEY_LENGTH = 32
# Domain separation: an entry's MAC is over its canonical JSON (which starts with "{"); the head record's
# and a checkpoint's signatures are over these prefixes and theirs, so no signature passes for another.
HEAD_PURPOSE = b"strangler.audit.head\n"
CHECKPOINT_PURPOSE = b"strangler.audit.checkpoint\n"


class AuditConfigError(ValueError):
    """An audit key or checkpoint store that cannot be used (too short, a development default with DEBUG
    off, an unknown store URL)."""


def canonical(entry: dict[str, Any]) -> bytes:
    return json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _without_hash(entry: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in entry.items() if k != "hash"}


def entry_hash(entry: dict[str, Any]) -> str:
    """The unkeyed SHA-256 of a legacy entry (chains written before audit keys)."""
    return hashlib.sha256(canonical(_without_hash(entry))).hexdigest()


class AuditKey:
    """The HMAC-SHA256 key of one log (one environment variable per log). `is_dev` marks the development
    default, which `from_setting` refuses with DEBUG off."""

    __slots__ = ("_secret", "is_dev")

    def __init__(self, secret: str | bytes, *, is_dev: bool = False) -> None:
        raw = secret.encode("utf-8") if isinstance(secret, str) else bytes(secret)
        if len(raw) < MIN_KEY_LENGTH:
            raise AuditConfigError(f"an audit key needs at least {MIN_KEY_LENGTH} characters")
        self._secret = raw
        self.is_dev = is_dev

    @classmethod
    def from_setting(cls, value: str | None, *, setting: str, dev_default: str, debug: bool) -> AuditKey:
        """The key a setting names, or the development default when it is unset (refused with DEBUG off)."""
        secret = value or dev_default
        is_dev = secret == dev_default
        if is_dev and not debug:
            raise AuditConfigError(f"DEBUG is off but {setting} is unset or the development default")
        try:
            return cls(secret, is_dev=is_dev)
        except AuditConfigError as exc:
            raise AuditConfigError(f"{setting}: {exc}") from None

    def __repr__(self) -> str:  # never the secret
        return f"AuditKey(dev={self.is_dev})"

    def entry_hash(self, entry: dict[str, Any]) -> str:
        return hmac.digest(self._secret, canonical(_without_hash(entry)), "sha256").hex()

    def sign(self, purpose: bytes, fields: dict[str, Any]) -> str:
        return hmac.digest(self._secret, purpose + canonical(fields), "sha256").hex()

    def signed(self, purpose: bytes, fields: dict[str, Any], signature: Any) -> bool:
        return isinstance(signature, str) and hmac.compare_digest(self.sign(purpose, fields), signature)


@dataclass(frozen=True, slots=True)
class ChainHead:
    """The last entry of a chain: its `seq` (0 before the first) and hash."""

    seq: int = 0
    hash: str = GENESIS

    def fields(self) -> dict[str, Any]:
        return {"entries": self.seq, "hash": self.hash}


START = ChainHead()


def seal(key: AuditKey, entry: dict[str, Any], after: ChainHead) -> ChainHead:
    """Chain `entry` (in place) after `after`: its seq, prev_hash and keyed hash. Returns the new head."""
    entry.pop("hash", None)
    entry["seq"] = after.seq + 1
    entry["prev_hash"] = after.hash
    entry["hash"] = key.entry_hash(entry)
    return ChainHead(entry["seq"], entry["hash"])


def head_record(key: AuditKey, head: ChainHead) -> dict[str, Any]:
    """The signed head record a log keeps beside its entries (a file or a row): entries and last hash."""
    return {**head.fields(), "sig": key.sign(HEAD_PURPOSE, head.fields())}


def link_fields(legacy: ChainHead) -> dict[str, Any]:
    """What a link entry says about the unkeyed chain it continues (the caller puts it in its own entry
    shape: a flag entry's `before`, a gateway line's `legacy`, an auth row's `data`)."""
    return {
        "scheme": SCHEME,
        "legacy_scheme": LEGACY_SCHEME,
        "legacy_entries": legacy.seq,
        "legacy_hash": legacy.hash,
    }


def classify(key: AuditKey, entry: dict[str, Any]) -> str | None:
    """ "keyed" or "legacy" for an entry whose hash checks under that scheme, None for neither."""
    recorded = entry.get("hash")
    if not isinstance(recorded, str):
        return None
    if hmac.compare_digest(key.entry_hash(entry), recorded):
        return "keyed"
    if hmac.compare_digest(entry_hash(entry), recorded):
        return "legacy"
    return None


def head_after(key: AuditKey, last: dict[str, Any] | None, count: int) -> tuple[ChainHead, bool]:
    """Where a writer continues a chain whose last entry is `last` (`count` entries visible):
    (head, needs_link). A legacy last entry needs a link entry first; an unreadable one is continued from
    whatever hash it carries (verify names it)."""
    if last is None:
        return START, False
    recorded = last.get("hash") if isinstance(last.get("hash"), str) else GENESIS
    kind = classify(key, last)
    if kind == "keyed" and isinstance(last.get("seq"), int):
        return ChainHead(last["seq"], recorded), False
    if kind == "legacy":
        return ChainHead(count, recorded), True
    seq = last.get("seq") if isinstance(last.get("seq"), int) else count
    return ChainHead(seq, recorded), False
