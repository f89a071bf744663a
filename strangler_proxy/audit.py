"""Audit addon: one hash-chained JSON line per request, written off the event loop (the chain, its files,
rotation and verify: strangler_proxy/audit_log.py, on kernel.audit).

Line: time, trace_id, request_id, user, client, method, path, query_keys (the names of the query
parameters; never their values, which may hold tokens or personal data), route, flag, flag_enabled, mode,
upstream (the final one), status, latency_ms (gateway), upstream_ms, fallback, breaker (the target's
breaker state), error, rate_limited (scope of a 429) -- plus seq, prev_hash and hash. Other lines carry
an `event`: `routes.loaded` (the route table the gateway loaded at start or reload: its file, sha256 and
route count) and `audit.link` (a keyed chain continuing one written before audit keys).

Cost per request on the event loop: one dict, one canonical JSON dump and one HMAC-SHA256. Lines are
written in batches (every `strangler_audit_flush_lines` lines or `strangler_audit_flush_ms`) by one
writer thread.

Several processes: each process needs its own chain. STRANGLER_WORKER_ID (set by the multi-process
runner) gives `gateway.w<ID>.jsonl`; a log locked by another running process makes this one use
`gateway.p<PID>.jsonl` instead.
"""

from __future__ import annotations

import asyncio
import os
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from mitmproxy import ctx, exceptions, http
from mitmproxy.utils import human

from kernel.audit import AuditConfigError
from strangler_proxy.audit_log import (
    DEV_GATEWAY_AUDIT_KEY,
    ChainWriter,
    audit_key_from_env,
    backups,
    chains,
    main,
    now_iso,
    verify_chain,
    with_suffix,
)
from strangler_proxy.ratelimit import RATE_LIMIT_KEY
from strangler_proxy.routes import ANONYMOUS
from strangler_proxy.routing import DECISION_KEY, FORWARD_KEY, IDENTITY_KEY
from strangler_proxy.tracing import TRACE_KEY

WORKER_ENV = "STRANGLER_WORKER_ID"
ROUTES_EVENT = "routes.loaded"


def default_audit_path() -> str:
    """GATEWAY_AUDIT_LOG, else <STRANGLER_VAR_DIR or var>/audit/gateway.jsonl."""
    explicit = os.environ.get("GATEWAY_AUDIT_LOG")
    if explicit is not None:
        return explicit
    var = os.environ.get("STRANGLER_VAR_DIR") or str(Path(__file__).resolve().parent.parent / "var")
    return str(Path(var) / "audit" / "gateway.jsonl")


def routes_entry(table: Any) -> dict[str, Any]:
    """The audit line of a loaded route table: which file, its sha256, how many routes."""
    return {
        "time": now_iso(),
        "event": ROUTES_EVENT,
        "routes_file": table.source,
        "routes_sha256": table.sha256,
        "routes": len(table.routes),
    }


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
    """Options: strangler_audit_log (GATEWAY_AUDIT_LOG; empty = off), strangler_audit_key
    (GATEWAY_AUDIT_KEY; the development default refused with DEBUG off), strangler_audit_checkpoints
    (GATEWAY_AUDIT_CHECKPOINTS), strangler_audit_checkpoint_seconds, strangler_audit_max_bytes,
    strangler_audit_backups, strangler_audit_flush_lines, strangler_audit_flush_ms.

    The route table the Router loaded is recorded (`routes.loaded`) at start and whenever it reloads."""

    def __init__(self) -> None:
        self.writer: ChainWriter | None = None
        self._flush_interval = 0.2
        self._flusher: asyncio.Task | None = None

    def load(self, loader) -> None:
        loader.add_option(
            "strangler_audit_log", str, default_audit_path(), "The request audit log (empty: no audit log)."
        )
        loader.add_option(
            "strangler_audit_key",
            str,
            os.environ.get("GATEWAY_AUDIT_KEY") or DEV_GATEWAY_AUDIT_KEY,
            "HMAC-SHA256 key of the audit chain (GATEWAY_AUDIT_KEY; at least 32 characters).",
        )
        loader.add_option(
            "strangler_audit_checkpoints",
            str,
            os.environ.get("GATEWAY_AUDIT_CHECKPOINTS", ""),
            "Where signed checkpoints of the chain go: a file or a redis:// URL (default: a file under "
            "checkpoints/ beside the log).",
        )
        loader.add_option(
            "strangler_audit_checkpoint_seconds", float, 10.0, "Longest time between two checkpoints."
        )
        loader.add_option("strangler_audit_max_bytes", str, "50m", "Size at which the audit log rotates.")
        loader.add_option("strangler_audit_backups", int, 10, "Rotated audit files kept.")
        loader.add_option("strangler_audit_flush_lines", int, 256, "Lines queued before a write.")
        loader.add_option("strangler_audit_flush_ms", int, 200, "Longest time a line waits to be written.")

    def configure(self, updated: set[str]) -> None:
        if self.writer is not None and not any(name.startswith("strangler_audit") for name in updated):
            if "strangler_routes" in updated:
                self._record_routes()
            return
        options = ctx.options
        try:
            key = audit_key_from_env(options.strangler_audit_key)
        except AuditConfigError as exc:
            raise exceptions.OptionsError(f"strangler_audit_key: {exc}") from None
        if options.strangler_audit_checkpoint_seconds < 0:
            raise exceptions.OptionsError("strangler_audit_checkpoint_seconds must be 0 or more")
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
                key=key,
                checkpoints=options.strangler_audit_checkpoints,
                checkpoint_seconds=options.strangler_audit_checkpoint_seconds,
            )
        except AuditConfigError as exc:
            raise exceptions.OptionsError(f"strangler_audit_checkpoints: {exc}") from None
        except OSError as exc:
            raise exceptions.OptionsError(f"cannot open the audit log {path}: {exc}") from None
        self._record_routes()

    def _record_routes(self) -> None:
        """Audit the route table the Router holds now (none in a chain without a Router)."""
        router = ctx.master.addons.get("router")
        table = getattr(router, "table", None)
        if self.writer is not None and table is not None:
            self.writer.append(routes_entry(table))
            self.writer.flush()

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


__all__ = [
    "Audit",
    "ChainWriter",
    "audit_entry",
    "backups",
    "chains",
    "main",
    "routes_entry",
    "verify_chain",
    "with_suffix",
]

if __name__ == "__main__":
    raise SystemExit(main())
