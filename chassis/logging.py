"""Request context (request id, trace id) for JSON log lines, in the monolith and the services."""

import contextvars
import logging

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
trace_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("trace_id", default="-")


class RequestIdFilter(logging.Filter):
    """Stamp each record with the current request id and trace id.

    Django logs 4xx/5xx responses after the middleware chain has returned (and reset the context vars),
    but it passes the request along: prefer that request's ids.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        request = getattr(record, "request", None)
        if hasattr(request, "method"):  # a request object, not yet flattened by another handler's filter
            record.request_id = getattr(request, "request_id", None) or request_id_var.get()
            record.trace_id = getattr(request, "trace_id", None) or trace_id_var.get()
            record.request = f"{request.method} {request.path}"  # keep the JSON line readable
        else:
            if not hasattr(record, "request_id"):
                record.request_id = request_id_var.get()
            if not hasattr(record, "trace_id"):
                record.trace_id = trace_id_var.get()
        return True


def json_logging(level: str, *, static_fields: dict | None = None) -> dict:
    """A LOGGING dict: JSON lines on stderr carrying request_id and trace_id."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": "chassis.logging.RequestIdFilter"}},
        "formatters": {
            "json": {
                "()": "pythonjsonlogger.json.JsonFormatter",
                "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s %(trace_id)s",
                "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
                "static_fields": static_fields or {},
            }
        },
        "handlers": {
            "console": {"class": "logging.StreamHandler", "formatter": "json", "filters": ["request_id"]}
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            # Replace Django's own plain-text console handler: every line leaves as JSON.
            "django": {"handlers": ["console"], "level": level, "propagate": False},
            "django.db.backends": {"level": "WARNING"},
        },
    }
