"""The flag audit log: append-only JSON lines, each entry chained to the one before by a sha256 hash.

hash = sha256 of the entry's canonical JSON (sorted keys, no spaces, UTF-8) without its `hash` field; the
entry includes `prev_hash`, the hash of the line before (64 zeros for the first line). Editing, removing
or reordering lines breaks the chain. A head record beside the log (`<log>.head`: entry count and last
hash) also catches lines cut from the end. Writers hold an exclusive fcntl lock on the log.
"""

import fcntl
import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flags.errors import FlagsError
from kernel.audit import GENESIS, Verification, canonical, check_head, entry_hash, walk_chain
from kernel.files import write_atomically


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
