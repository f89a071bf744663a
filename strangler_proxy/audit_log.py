"""The gateway's request audit log on disk: one hash chain per process, in size-rotated JSON-lines files
(kernel.audit: HMAC-SHA256 under GATEWAY_AUDIT_KEY, a signed `<log>.head`, signed checkpoints in
GATEWAY_AUDIT_CHECKPOINTS), and its verify command.

The chain runs on across rotations and restarts: the first line of a new file points at the last line of
the file before it. The oldest file present may start anywhere once rotation has deleted older ones.
A log written before audit keys (unkeyed SHA-256) is continued by a link entry (`"event": "audit.link"`).

Lines are written in batches by one writer thread (the event loop only seals and queues); the head is
rewritten per batch and a checkpoint written at most every `checkpoint_seconds`, and when the writer
closes.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import re
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kernel.audit import (
    AuditKey,
    Checkpointer,
    CheckpointStore,
    Verification,
    canonical,
    head_after,
    link_fields,
    open_checkpoints,
    seal,
)
from kernel.audit import (
    verify_chain as verify_parts,
)
from kernel.audit.checkpoints import DEFAULT_EVERY_SECONDS
from kernel.audit.files import default_checkpoints, file_lines, last_entry, stored_head, write_head

logger = logging.getLogger(__name__)

DEV_GATEWAY_AUDIT_KEY = "dev-only-gateway-audit-key-not-for-production"  # DEV-ONLY
LINK_EVENT = "audit.link"


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def dev_key() -> AuditKey:
    return AuditKey(DEV_GATEWAY_AUDIT_KEY, is_dev=True)


def with_suffix(path: Path, tag: str) -> Path:
    """gateway.jsonl + w2 -> gateway.w2.jsonl"""
    return path.with_name(f"{path.stem}.{tag}{path.suffix}")


def backups(path: Path) -> list[Path]:
    """Rotated files of `path`, oldest first (path.3, path.2, path.1)."""
    found = []
    for candidate in path.parent.glob(path.name + ".*"):
        suffix = candidate.name[len(path.name) + 1 :]
        if suffix.isdigit():
            found.append((int(suffix), candidate))
    return [p for _, p in sorted(found, reverse=True)]


def chains(path: Path) -> list[Path]:
    """Every chain's current file for the configured `path`: itself and the per-process ones."""
    pattern = re.compile(re.escape(path.stem) + r"\.[wp]\d+" + re.escape(path.suffix) + "$")
    found = [p for p in path.parent.glob(f"{path.stem}.*{path.suffix}") if pattern.match(p.name)]
    return ([path] if path.exists() else []) + sorted(found)


def chain_id(path: Path) -> str:
    """A chain's name in a checkpoint store: the absolute path of its current file."""
    return f"gateway:{path.resolve()}"


def verify_chain(
    path: Path, *, key: AuditKey | None = None, checkpoints: CheckpointStore | None = None
) -> Verification:
    """Check one chain: its rotated backups (oldest first) then the current file, against the head record
    and the checkpoints (default: the development key and the checkpoint file beside the log).

    `bad_line` counts lines across the files in that order; `reason` names the file."""
    files = [file for file in [*backups(path), path] if file.exists()]
    store = checkpoints or open_checkpoints("", default=default_checkpoints(path))
    return verify_parts(
        key or dev_key(),
        [(f"{file.name}: ", file_lines(file)) for file in files],
        head=stored_head(path),
        store=store,
        chain=chain_id(path),
        open_start=len(files) > 1 or bool(files and files[0] != path),
    )


class ChainWriter:
    """Appends chained lines to `path`, rotating at `max_bytes` (keeping `keep` backups). `append` runs
    on the caller's thread and only seals and queues; `flush` hands the queued lines to the writer
    thread."""

    def __init__(
        self,
        path: Path,
        *,
        max_bytes: int,
        keep: int,
        flush_lines: int,
        key: AuditKey | None = None,
        checkpoints: str | CheckpointStore = "",
        checkpoint_seconds: float = DEFAULT_EVERY_SECONDS,
    ) -> None:
        self.requested_path = path
        self.max_bytes = max_bytes
        self.keep = keep
        self.flush_lines = flush_lines
        self.key = key or dev_key()
        self.path, self._file = _open_locked(path)
        if isinstance(checkpoints, str):
            checkpoints = open_checkpoints(checkpoints, default=default_checkpoints(self.path))
        self.checkpoints = checkpoints
        self._checkpointer = Checkpointer(
            checkpoints, self.key, chain_id(self.path), every_seconds=checkpoint_seconds
        )
        self._size = self._file.seek(0, os.SEEK_END)
        last, count = last_entry(self.path)
        if last is None:
            older = backups(self.path)
            last, count = last_entry(older[-1]) if older else (None, 0)
        self._head, needs_link = head_after(self.key, last, count)
        self._pending: list[bytes] = []
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="strangler-audit")
        if needs_link:
            self.append({"time": now_iso(), "event": LINK_EVENT, "legacy": link_fields(self._head)})

    def append(self, entry: dict[str, Any]) -> dict[str, Any]:
        self._head = seal(self.key, entry, self._head)
        self._pending.append(canonical(entry) + b"\n")
        if len(self._pending) >= self.flush_lines:
            self.flush()
        return entry

    def flush(self) -> None:
        if self._pending:
            batch, self._pending = self._pending, []
            self._executor.submit(self._write, batch, self._head)

    def close(self) -> None:
        self.flush()
        self._executor.submit(self._checkpointer.note, self._head, force=True)
        self._executor.shutdown(wait=True)
        self._file.close()

    def _write(self, batch: list[bytes], head) -> None:
        try:
            data = b"".join(batch)
            if self._size and self._size + len(data) > self.max_bytes:
                self._rotate()
            self._file.write(data)
            self._file.flush()
            os.fsync(self._file.fileno())  # the head and checkpoints never name a line not on disk
            self._size += len(data)
            write_head(self.path, self.key, head)
        except OSError:
            logger.exception("cannot write the audit log %s", self.path)
            return
        self._checkpointer.note(head)

    def _rotate(self) -> None:
        self._file.close()  # releases the lock; the new file is locked below
        for index in range(self.keep, 0, -1):
            older = self.path.with_name(f"{self.path.name}.{index}")
            if index == self.keep:
                older.unlink(missing_ok=True)
            else:
                with contextlib.suppress(FileNotFoundError):
                    older.rename(self.path.with_name(f"{self.path.name}.{index + 1}"))
        if self.keep:
            self.path.rename(self.path.with_name(f"{self.path.name}.1"))
        else:
            self.path.unlink(missing_ok=True)
        self._file = open(self.path, "ab")  # noqa: SIM115 (kept open; closed in close())
        fcntl.flock(self._file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        self._size = 0


def _open_locked(path: Path):
    """Open `path` for appending under an exclusive lock; if another process holds it, this process's own
    `<stem>.p<pid><suffix>` instead (a chain must have one writer)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    for candidate in (path, with_suffix(path, f"p{os.getpid()}")):
        handle = open(candidate, "ab")  # noqa: SIM115 (kept open by the writer)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            continue
        return candidate, handle
    raise OSError(f"cannot lock the audit log {path}")


def main(argv: list[str] | None = None) -> int:
    """`python -m strangler_proxy.audit LOG`: verify every chain of the log (per-process files included)
    with GATEWAY_AUDIT_KEY and the checkpoints in GATEWAY_AUDIT_CHECKPOINTS (or --checkpoints)."""
    import argparse
    import sys

    from kernel.audit import AuditConfigError

    parser = argparse.ArgumentParser(prog="python -m strangler_proxy.audit", description=main.__doc__)
    parser.add_argument("log", type=Path, help="the configured strangler_audit_log path")
    parser.add_argument(
        "--checkpoints",
        default=os.environ.get("GATEWAY_AUDIT_CHECKPOINTS", ""),
        help="the checkpoint store (a file or redis:// URL; default: GATEWAY_AUDIT_CHECKPOINTS, else a file "
        "under checkpoints/ beside each chain)",
    )
    parser.add_argument("--json", action="store_true", help="one JSON object per chain")
    args = parser.parse_args(argv)
    try:
        key = audit_key_from_env()
    except AuditConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    found = chains(args.log)
    if not found:
        print(f"no audit log at {args.log}")
        return 1
    failed = False
    for chain in found:
        store = open_checkpoints(args.checkpoints, default=default_checkpoints(chain))
        result = verify_chain(chain, key=key, checkpoints=store)
        failed |= not result.ok
        if args.json:
            print(json.dumps({"file": str(chain), **result.to_dict()}))
        else:
            verdict = "ok" if result.ok else f"BROKEN at line {result.bad_line}: {result.reason}"
            print(f"{chain}: {result.entries} entries, {verdict} (checkpoints held: {result.checkpoints})")
    return 1 if failed else 0


def env_debug() -> bool:
    raw = os.environ.get("DEBUG")
    return raw is None or raw.strip().lower() in {"1", "true", "yes", "on"}


def audit_key_from_env(value: str | None = None) -> AuditKey:
    """GATEWAY_AUDIT_KEY (or `value`), the development default refused with DEBUG off."""
    return AuditKey.from_setting(
        os.environ.get("GATEWAY_AUDIT_KEY") if value is None else value,
        setting="GATEWAY_AUDIT_KEY",
        dev_default=DEV_GATEWAY_AUDIT_KEY,
        debug=env_debug(),
    )
