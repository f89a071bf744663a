"""The flags toolkit's errors: the project's one application error type (a stable code, a human message)."""

from typing import Any

from contracts.errors import ApplicationError


class FlagsError(ApplicationError):
    """A flag operation that cannot be done; the CLI prints `flags <command>: <code>: <message>` on one line
    and exits 2 (contracts/cli)."""

    def __init__(self, code: str, message: str, extra: dict[str, Any] | None = None) -> None:
        super().__init__(code, message, extra=extra)

    def __str__(self) -> str:
        return self.message


class UnknownFlag(FlagsError):
    def __init__(self, name: str) -> None:
        super().__init__(
            "flag_not_found", f"unknown flag {name!r} (create it: `flags create {name}`)", {"flag": name}
        )


class InvalidFeatures(FlagsError):
    """A document that is not a valid Unleash `/api/client/features` payload."""

    def __init__(self, message: str, source: str = "") -> None:
        where = f"{source}: " if source else ""
        super().__init__("invalid_features", f"{where}{message}", {"source": source})
