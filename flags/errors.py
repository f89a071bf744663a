"""The one error type of the flags toolkit: a stable code and a human message."""

from typing import Any


class FlagsError(Exception):
    """A flag operation that cannot be done; the CLI prints `message` on one line and exits non-zero."""

    def __init__(self, code: str, message: str, extra: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.extra = extra or {}

    def __str__(self) -> str:
        return self.message


class UnknownFlag(FlagsError):
    def __init__(self, name: str) -> None:
        super().__init__("flag_not_found", f"unknown flag {name!r}", {"flag": name})


class InvalidFeatures(FlagsError):
    """A document that is not a valid Unleash `/api/client/features` payload."""

    def __init__(self, message: str, source: str = "") -> None:
        where = f"{source}: " if source else ""
        super().__init__("invalid_features", f"{where}{message}", {"source": source})
