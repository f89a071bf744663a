"""The application error types; one copy, shared with the services in contracts.errors."""

from contracts.errors import ApplicationError, ConflictError, NotFoundError

__all__ = ["ApplicationError", "ConflictError", "NotFoundError"]
