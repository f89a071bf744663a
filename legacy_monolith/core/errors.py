"""The application error types; one copy, shared with the services in extracted.common.errors."""

from extracted.common.errors import ApplicationError, ConflictError, NotFoundError

__all__ = ["ApplicationError", "ConflictError", "NotFoundError"]
