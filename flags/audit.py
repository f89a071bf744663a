"""The flag audit log: append-only JSON lines, each entry chained to the one before by a sha256 hash.

hash = sha256 of the entry's canonical JSON (sorted keys, no spaces, UTF-8) without its `hash` field; the
entry includes `prev_hash`, the hash of the line before (64 zeros for the first line). Editing, removing
or reordering lines breaks the chain. A head record beside the log (`<log>.head`: entry count and last
hash) also catches lines cut from the end. Writers hold an exclusive fcntl lock on the log.
"""

import fcntl
import hashlib
import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flags.errors import FlagsError
from flags.flagsfile import write_atomically

GENESIS = "0" * 64


def canonical(entry: dict[str, Any]) -> bytes:
    return json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def entry_hash(entry: dict[str, Any]) -> str:
    return hashlib.sha256(canonical({k: v for k, v in entry.items() if k != "hash"})).hexdigest()


@dataclass(frozen=True)
class Verification:
    """What `flags audit --verify` found: ok, or the first bad line (1-based) and why."""

    ok: bool
    entries: int
    bad_line: int | None = None
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "entries": self.entries, "bad_line": self.bad_line, "reason": self.reason}


@dataclass(frozen=True)
class ChainWalk:
    """Hashes of the lines walked, in order, and the first failure if the chain broke."""

    hashes: list[str]
    failure: Verification | None = None


def walk_chain(
    lines: Iterable[bytes], *, prev_hash: str | None = GENESIS, first_number: int = 1, where: str = ""
) -> ChainWalk:
    """Check that each line is a JSON object linked to the line before and hashing to its own `hash`.

    `prev_hash=None` accepts whatever the first line links to (a chain whose start was rotated away).
    Lines are numbered from `first_number`; `where` prefixes every reason (e.g. the file's name)."""
    hashes: list[str] = []
    for number, raw in enumerate(lines, start=first_number):
        try:
            entry = json.loads(raw)
            if not isinstance(entry, dict):
                raise ValueError("not an object")
        except ValueError:
            return ChainWalk(
                hashes, Verification(False, number, number, f"{where}not a JSON object (edited or cut)")
            )
        if prev_hash is not None and entry.get("prev_hash") != prev_hash:
            reason = f"{where}prev_hash does not match the line before (removed or reordered)"
            return ChainWalk(hashes, Verification(False, number, number, reason))
        if entry.get("hash") != entry_hash(entry):
            reason = f"{where}hash does not match its content (edited)"
            return ChainWalk(hashes, Verification(False, number, number, reason))
        prev_hash = entry["hash"]
        hashes.append(prev_hash)
    return ChainWalk(hashes)


def check_head(head_path: Path, hashes: list[str], total: int) -> Verification:
    """The head record names the last entry written; the log must still hold it at that position.

    `hashes` are the current file's, `total` the lines walked across every file of the chain."""
    count = len(hashes)
    if not head_path.exists():
        if count:
            return Verification(False, total, None, f"head record {head_path.name} is missing")
        return Verification(True, total)
    try:
        head = json.loads(head_path.read_text(encoding="utf-8"))
        recorded, recorded_hash = int(head["entries"]), str(head["hash"])
    except (OSError, ValueError, KeyError, TypeError):
        return Verification(False, total, None, f"head record {head_path.name} is unreadable")
    first = total - count  # lines before the current file
    if recorded > count:
        reason = f"the log ends at line {count} but {recorded} entries were written"
        return Verification(False, total, first + count + 1, reason)
    if recorded and hashes[recorded - 1] != recorded_hash:
        return Verification(
            False, total, first + recorded, "differs from the last entry the head record names"
        )
    return Verification(True, total)


class AuditLog:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.head_path = path.with_name(path.name + ".head")

    def append(self, *, who: str, flag: str, action: str, before: Any, after: Any) -> dict[str, Any]:
        """Append one entry under the lock and return it (with its hash)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a+b") as log:
            fcntl.flock(log, fcntl.LOCK_EX)
            try:
                last, count = _last_line(log)
                prev_hash = json.loads(last)["hash"] if last else GENESIS
                entry = {
                    "who": who,
                    "when": datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z"),
                    "flag": flag,
                    "action": action,
                    "before": before,
                    "after": after,
                    "prev_hash": prev_hash,
                }
                entry["hash"] = entry_hash(entry)
                log.seek(0, os.SEEK_END)
                log.write(canonical(entry) + b"\n")
                log.flush()
                os.fsync(log.fileno())
                head = {"entries": count + 1, "hash": entry["hash"]}
                write_atomically(self.head_path, json.dumps(head) + "\n")
            finally:
                fcntl.flock(log, fcntl.LOCK_UN)
        return entry

    def entries(self) -> Iterator[dict[str, Any]]:
        if not self.path.exists():
            return
        with open(self.path, encoding="utf-8") as log:
            for number, line in enumerate(log, start=1):
                try:
                    yield json.loads(line)
                except ValueError:
                    raise FlagsError(
                        "audit_log_corrupt",
                        f"audit log line {number} is not JSON; run `flags audit --verify`",
                    ) from None

    def verify(self) -> Verification:
        if not self.path.exists():
            return Verification(ok=not self.head_path.exists(), entries=0, reason=self._missing_reason())
        try:
            lines = self.path.read_bytes().split(b"\n")
        except OSError as exc:
            raise FlagsError("unreadable_file", f"cannot read the audit log {self.path}: {exc}") from None
        if lines and lines[-1] == b"":
            lines.pop()
        walk = walk_chain(lines)
        return walk.failure or check_head(self.head_path, walk.hashes, len(lines))

    def _missing_reason(self) -> str:
        return "the audit log is missing but its head record exists" if self.head_path.exists() else ""


def _last_line(log) -> tuple[bytes, int]:
    """The last non-empty line of the log and the number of lines, read under the caller's lock."""
    log.seek(0)
    last = b""
    count = 0
    for line in log:
        if line.strip():
            last = line
            count += 1
    return last.strip(), count
