"""The hash-chained audit log's chain: canonical JSON entries, each carrying `prev_hash` (the hash of the
entry before, GENESIS for the first) and its own `hash` over everything else. Editing, removing or
reordering entries breaks the chain; a head record (entry count and last hash) kept apart from the entries
also catches entries cut from the end. The flags, the gateway and the Auth service keep their own chains
(a file, rotated files, a table) and walk them with this one implementation.
"""

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
