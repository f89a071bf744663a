"""The flag audit log: append-only JSON lines, one chain (kernel.audit: HMAC-SHA256 under FLAGS_AUDIT_KEY,
a signed head record `<log>.head`, a signed checkpoint per change in FLAGS_AUDIT_CHECKPOINTS).

Each entry: who, when, flag, action, before, after, plus seq, prev_hash and hash. Writers hold an
exclusive fcntl lock on the log. A log written before audit keys (unkeyed SHA-256) is continued by a link
entry (action `audit.link`, `before` naming the old head) before the next change.
"""

import fcntl
import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flags.config import FlagsConfig
from flags.errors import FlagsError
from kernel.audit import (
    SCHEME,
    AuditConfigError,
    AuditKey,
    Checkpointer,
    CheckpointStore,
    Verification,
    canonical,
    head_after,
    link_fields,
    open_checkpoints,
    seal,
    verify_chain,
)
from kernel.audit.files import default_checkpoints, file_lines, stored_head, write_head

DEV_FLAGS_AUDIT_KEY = "dev-only-flags-audit-key-not-for-production"  # DEV-ONLY
LINK_ACTION = "audit.link"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


class AuditLog:
    """One flags audit log. Without `key`, the development key; `from_config` is what commands use."""

    def __init__(
        self, path: Path, *, key: AuditKey | None = None, checkpoints: CheckpointStore | None = None
    ) -> None:
        self.path = Path(path)
        self.head_path = self.path.with_name(self.path.name + ".head")
        self.key = key or AuditKey(DEV_FLAGS_AUDIT_KEY, is_dev=True)
        self.checkpoints = checkpoints or open_checkpoints("", default=default_checkpoints(self.path))
        self.chain = f"flags:{self.path.resolve()}"
        # A flag change is rare and matters: every one is checkpointed.
        self._checkpointer = Checkpointer(self.checkpoints, self.key, self.chain, every_seconds=0)

    @classmethod
    def from_config(cls, config: FlagsConfig) -> "AuditLog":
        """FLAGS_AUDIT_LOG, FLAGS_AUDIT_KEY (the development default refused with DEBUG off) and
        FLAGS_AUDIT_CHECKPOINTS."""
        try:
            key = AuditKey.from_setting(
                config.audit_key,
                setting="FLAGS_AUDIT_KEY",
                dev_default=DEV_FLAGS_AUDIT_KEY,
                debug=config.debug,
            )
            store = open_checkpoints(config.audit_checkpoints, default=default_checkpoints(config.audit_path))
        except AuditConfigError as exc:
            raise FlagsError("invalid_configuration", str(exc)) from None
        return cls(config.audit_path, key=key, checkpoints=store)

    def append(
        self, *, who: str, flag: str, action: str, before: Any, after: Any, note: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Append one entry under the lock and return it (with its seq and hash). `note` (only when given):
        why, e.g. a forced raise's reason and failed gates, or the rollout judge's evidence."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a+b") as log:
            fcntl.flock(log, fcntl.LOCK_EX)
            try:
                last, count = _last_entry(log)
                head, needs_link = head_after(self.key, last, count)
                lines = []
                if needs_link:
                    link = {
                        "who": "strangler",
                        "when": _now(),
                        "flag": "",
                        "action": LINK_ACTION,
                        "before": link_fields(head),
                        "after": {"scheme": SCHEME},
                    }
                    head = seal(self.key, link, head)
                    lines.append(canonical(link) + b"\n")
                entry = {
                    "who": who,
                    "when": _now(),
                    "flag": flag,
                    "action": action,
                    "before": before,
                    "after": after,
                }
                if note:
                    entry["note"] = note
                head = seal(self.key, entry, head)
                lines.append(canonical(entry) + b"\n")
                log.seek(0, os.SEEK_END)
                log.write(b"".join(lines))
                log.flush()
                os.fsync(log.fileno())
                write_head(self.path, self.key, head)
                self._checkpointer.note(head)
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
        try:
            parts = [("", list(file_lines(self.path)))] if self.path.exists() else []
        except OSError as exc:
            raise FlagsError("unreadable_file", f"cannot read the audit log {self.path}: {exc}") from None
        return verify_chain(
            self.key, parts, head=stored_head(self.path), store=self.checkpoints, chain=self.chain
        )


def _last_entry(log) -> tuple[dict[str, Any] | None, int]:
    """The last non-empty line of the log (an object; {} if unreadable) and the number of lines, read
    under the caller's lock."""
    log.seek(0)
    last = b""
    count = 0
    for line in log:
        if line.strip():
            last = line
            count += 1
    if not count:
        return None, 0
    try:
        entry = json.loads(last)
    except ValueError:
        return {}, count
    return (entry if isinstance(entry, dict) else {}), count
