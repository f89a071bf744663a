"""The Payment service's application errors: the one error type (contracts.errors.ApplicationError),
rendered {"code", "message", "extra"} by the chassis' exception handler. Codes are the monolith's where
the monolith has the same case."""

from contracts.errors import ApplicationError, ConflictError, NotFoundError

__all__ = ["ApplicationError", "ConflictError", "NotFoundError", "gateway_unknown"]


def gateway_unknown(name: str, known: list[str]) -> ApplicationError:
    return ApplicationError(
        "payment_gateway_unknown",
        f"Unknown payment gateway {name!r}",
        extra={"gateway": name, "known": known},
    )
