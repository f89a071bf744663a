"""Audit addon: one hash-chained JSON line per request, in a size-rotated file written off the event loop.

Line: time, trace_id, request_id, user, client, method, path, query_keys (the names of the query
parameters; never their values, which may hold tokens or personal data), route, flag, flag_enabled, mode,
upstream (the final one), status, latency_ms (gateway), upstream_ms, fallback, breaker (the target's
breaker state), error, rate_limited (scope of a 429) -- plus prev_hash and hash.

Chain: the flag audit log's scheme, reused from flags/audit.py (canonical JSON, sha256 without `hash`,
GENESIS for the first line). It runs on across rotations and restarts: the first line of a new file
points at the last line of the file before it. `<log>.head` names the last line written (entries in the
current file and its hash), so lines cut from the end are caught too; it is rewritten per batch, not
per line. `verify_chain(path)` checks the current file and its rotated backups in order.

Cost per request on the event loop: one dict, one canonical JSON dump and one sha256. Lines are written
in batches (every `strangler_audit_flush_lines` lines or `strangler_audit_flush_ms`) by one writer thread.

Several processes: each process needs its own chain. STRANGLER_WORKER_ID (set by the multi-process
runner) gives `gateway.w<ID>.jsonl`; a log locked by another running process makes this one use
`gateway.p<PID>.jsonl` instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import logging
import os
import re
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from mitmproxy import ctx, exceptions, http
from mitmproxy.utils import human

from kernel.audit import GENESIS, Verification, canonical, check_head, entry_hash, walk_chain
from kernel.files import write_atomically
from strangler_proxy.ratelimit import RATE_LIMIT_KEY
from strangler_proxy.routes import ANONYMOUS
from strangler_proxy.routing import DECISION_KEY, FORWARD_KEY, IDENTITY_KEY
from strangler_proxy.tracing import TRACE_KEY

logger = logging.getLogger(__name__)

WORKER_ENV = "STRANGLER_WORKER_ID"


def default_audit_path() -> str:
    """GATEWAY_AUDIT_LOG, else <STRANGLER_VAR_DIR or var>/audit/gateway.jsonl."""
    explicit = os.environ.get("GATEWAY_AUDIT_LOG")
    if explicit is not None:
        return explicit
    var = os.environ.get("STRANGLER_VAR_DIR") or str(Path(__file__).resolve().parent.parent / "var")
    return str(Path(var) / "audit" / "gateway.jsonl")


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


def verify_chain(path: Path) -> Verification:
    """Check one chain: its rotated backups (oldest first) then the current file, then the head record.

    The oldest file present may start anywhere in the chain (older backups were rotated away); every later
    line must point at the one before it and hash to its own `hash`. `bad_line` counts lines across the
    files in that order; `reason` names the file."""
    prev_hash: str | None = None  # accept the first line's prev_hash: the chain's visible start
    total = 0
    hashes: list[str] = []
    for file in [*backups(path), path]:
        if not file.exists():
            continue
        walk = walk_chain(_lines(file), prev_hash=prev_hash, first_number=total + 1, where=f"{file.name}: ")
        if walk.failure:
            return walk.failure
        hashes = walk.hashes
        total += len(hashes)
        prev_hash = hashes[-1] if hashes else prev_hash
    return check_head(head_of(path), hashes, total)


def head_of(path: Path) -> Path:
    return path.with_name(path.name + ".head")


def _lines(path: Path) -> Iterator[bytes]:
    with open(path, "rb") as handle:
        for line in handle:
            if line.strip():
                yield line.rstrip(b"\n")


class ChainWriter:
    """Appends chained lines to `path`, rotating at `max_bytes` (keeping `keep` backups). `append` runs
    on the caller's thread and only queues; `flush` hands the queued lines to the writer thread."""

    def __init__(self, path: Path, *, max_bytes: int, keep: int, flush_lines: int) -> None:
        self.requested_path = path
        self.max_bytes = max_bytes
        self.keep = keep
        self.flush_lines = flush_lines
        self.path, self._file = _open_locked(path)
        self._size = self._file.seek(0, os.SEEK_END)
        self._last_hash, self._entries = _tail(self.path)
        if self._last_hash is None:
            self._last_hash = _last_hash_of_backups(self.path)
        self._pending: list[bytes] = []
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="strangler-audit")

    def append(self, entry: dict[str, Any]) -> dict[str, Any]:
        entry["prev_hash"] = self._last_hash
        entry["hash"] = self._last_hash = entry_hash(entry)
        self._pending.append(canonical(entry) + b"\n")
        if len(self._pending) >= self.flush_lines:
            self.flush()
        return entry

    def flush(self) -> None:
        if self._pending:
            batch, self._pending = self._pending, []
            self._executor.submit(self._write, batch, self._last_hash)

    def close(self) -> None:
        self.flush()
        self._executor.shutdown(wait=True)
        self._file.close()

    def _write(self, batch: list[bytes], last_hash: str) -> None:
        try:
            data = b"".join(batch)
            if self._size and self._size + len(data) > self.max_bytes:
                self._rotate()
            self._file.write(data)
            self._file.flush()
            os.fsync(self._file.fileno())  # the head never names a line that is not on disk
            self._size += len(data)
            self._entries += len(batch)
            write_atomically(
                head_of(self.path), json.dumps({"entries": self._entries, "hash": last_hash}) + "\n"
            )
        except OSError:
            logger.exception("cannot write the audit log %s", self.path)

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
        self._entries = 0


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


def _tail(path: Path) -> tuple[str | None, int]:
    """(hash of the last line, number of lines) of an existing log."""
    last, count = None, 0
    if path.exists():
        for raw in _lines(path):
            count += 1
            last = raw
    if last is None:
        return None, 0
    try:
        return json.loads(last)["hash"], count
    except (ValueError, KeyError, TypeError):
        logger.warning("the last line of %s is not an audit entry; the chain restarts", path)
        return GENESIS, count


def _last_hash_of_backups(path: Path) -> str:
    older = backups(path)
    if older:
        last, _ = _tail(older[-1])
        if last:
            return last
    return GENESIS


def audit_entry(flow: http.HTTPFlow, now: float) -> dict[str, Any]:
    """The audit line of a finished flow (without the chain fields)."""
    request = flow.request
    trace = flow.metadata.get(TRACE_KEY)
    identity = flow.metadata.get(IDENTITY_KEY, ANONYMOUS)
    decision = flow.metadata.get(DECISION_KEY)
    forward = flow.metadata.get(FORWARD_KEY)
    refusal = flow.metadata.get(RATE_LIMIT_KEY)
    path, _, query = request.path.partition("?")
    peer = flow.client_conn.peername
    started = request.timestamp_start or now
    entry: dict[str, Any] = {
        "time": datetime.fromtimestamp(now, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "trace_id": trace.trace_id if trace else None,
        "request_id": trace.request_id if trace else None,
        "user": identity.user_id,
        "client": peer[0] if peer else None,
        "method": request.method,
        "path": path,
        "query_keys": sorted({key for key, _ in parse_qsl(query, keep_blank_values=True)}) if query else [],
        "route": decision.route_id if decision else None,
        "flag": decision.flag if decision else None,
        "flag_enabled": decision.flag_enabled if decision else None,
        "mode": decision.mode if decision else None,
        "upstream": forward.upstream_name if forward else (decision.upstream.name if decision else "gateway"),
        "status": flow.response.status_code if flow.response else None,
        "latency_ms": round((now - started) * 1000, 3),
        "upstream_ms": round(forward.latency_ms, 3) if forward and not forward.passthrough else None,
        "fallback": bool(forward and forward.fallback),
        "breaker": forward.breaker_state if forward else None,
        "error": (forward.error if forward else None) or (flow.error.msg if flow.error else None),
    }
    if refusal is not None:
        entry["rate_limited"] = refusal.scope
    return entry


class Audit:
    """Options: strangler_audit_log (GATEWAY_AUDIT_LOG; empty = off), strangler_audit_max_bytes,
    strangler_audit_backups, strangler_audit_flush_lines, strangler_audit_flush_ms."""

    def __init__(self) -> None:
        self.writer: ChainWriter | None = None
        self._flush_interval = 0.2
        self._flusher: asyncio.Task | None = None

    def load(self, loader) -> None:
        loader.add_option(
            "strangler_audit_log", str, default_audit_path(), "The request audit log (empty: no audit log)."
        )
        loader.add_option("strangler_audit_max_bytes", str, "50m", "Size at which the audit log rotates.")
        loader.add_option("strangler_audit_backups", int, 10, "Rotated audit files kept.")
        loader.add_option("strangler_audit_flush_lines", int, 256, "Lines queued before a write.")
        loader.add_option("strangler_audit_flush_ms", int, 200, "Longest time a line waits to be written.")

    def configure(self, updated: set[str]) -> None:
        if self.writer is not None and not any(name.startswith("strangler_audit") for name in updated):
            return
        options = ctx.options
        try:
            max_bytes = human.parse_size(options.strangler_audit_max_bytes)
        except ValueError as exc:
            raise exceptions.OptionsError(f"strangler_audit_max_bytes: {exc}") from None
        if not max_bytes or options.strangler_audit_backups < 0 or options.strangler_audit_flush_lines < 1:
            raise exceptions.OptionsError("audit: max bytes must be positive, backups >= 0, flush lines >= 1")
        if options.strangler_audit_flush_ms < 1:
            raise exceptions.OptionsError("strangler_audit_flush_ms must be at least 1")
        self._close()
        self._flush_interval = options.strangler_audit_flush_ms / 1000
        if not options.strangler_audit_log:
            return
        path = Path(options.strangler_audit_log)
        worker = os.environ.get(WORKER_ENV)
        if worker:
            path = with_suffix(path, f"w{worker}")
        try:
            self.writer = ChainWriter(
                path,
                max_bytes=max_bytes,
                keep=options.strangler_audit_backups,
                flush_lines=options.strangler_audit_flush_lines,
            )
        except OSError as exc:
            raise exceptions.OptionsError(f"cannot open the audit log {path}: {exc}") from None

    async def running(self) -> None:
        if self._flusher is None:
            self._flusher = asyncio.get_running_loop().create_task(self._flush_periodically())

    async def _flush_periodically(self) -> None:
        while True:
            await asyncio.sleep(self._flush_interval)
            if self.writer is not None:
                self.writer.flush()

    def response(self, flow: http.HTTPFlow) -> None:
        if self.writer is not None:
            self.writer.append(audit_entry(flow, time.time()))

    def error(self, flow: http.HTTPFlow) -> None:
        if self.writer is not None and flow.response is None:
            self.writer.append(audit_entry(flow, time.time()))

    def done(self) -> None:
        if self._flusher is not None:
            self._flusher.cancel()
            self._flusher = None
        self._close()

    def _close(self) -> None:
        writer, self.writer = self.writer, None
        if writer is not None:
            writer.close()


def main(argv: list[str] | None = None) -> int:
    """`python -m strangler_proxy.audit LOG`: verify every chain of the log (per-process files included)."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m strangler_proxy.audit", description=main.__doc__)
    parser.add_argument("log", type=Path, help="the configured strangler_audit_log path")
    parser.add_argument("--json", action="store_true", help="one JSON object per chain")
    args = parser.parse_args(argv)
    found = chains(args.log)
    if not found:
        print(f"no audit log at {args.log}")
        return 1
    failed = False
    for chain in found:
        result = verify_chain(chain)
        failed |= not result.ok
        if args.json:
            print(json.dumps({"file": str(chain), **result.to_dict()}))
        else:
            verdict = "ok" if result.ok else f"BROKEN at line {result.bad_line}: {result.reason}"
            print(f"{chain}: {result.entries} entries, {verdict}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
