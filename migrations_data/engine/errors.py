"""The one exception base of the sync toolkit: a stable code and one clear line for the command."""

from __future__ import annotations

from typing import Any

from contracts.errors import ApplicationError


class SyncError(ApplicationError):
    """A sync job cannot go on: `manage.py sync` prints `sync <entity> <action>: code: message`, exit 2."""

    code = "sync_error"

    def __init__(self, message: str, *, code: str | None = None, extra: dict[str, Any] | None = None):
        super().__init__(code or self.code, message, extra=extra)

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class TargetUnavailable(SyncError):
    """The target service did not answer (down, timed out, 5xx after the retries)."""

    code = "target_unavailable"


class TargetRefused(SyncError):
    """The target service answered a 4xx: the request (a document, a token) is wrong; no retry helps."""

    code = "target_refused"
