"""The one application error type (monolith and services), rendered as {"code", "message", "extra"}."""

from typing import Any


class ApplicationError(Exception):
    """A business rule said no. `code` is stable and machine-readable; tests assert on it."""

    status_code = 400

    def __init__(
        self, code: str, message: str, *, extra: dict[str, Any] | None = None, status: int | None = None
    ):
        super().__init__(message)
        self.code = code
        self.message = message
        self.extra = extra or {}
        if status is not None:
            self.status_code = status


class NotFoundError(ApplicationError):
    status_code = 404

    def __init__(self, what: str, ident: Any):
        super().__init__(
            f"{what}_not_found",
            f"{what.replace('_', ' ').capitalize()} {ident} does not exist",
            extra={"id": ident},
        )


class ConflictError(ApplicationError):
    status_code = 409
