"""Request id context for JSON logs."""

import contextvars
import logging

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")


class RequestIdFilter(logging.Filter):
    """Stamp each record with the current request id.

    Django logs 4xx/5xx responses after the middleware chain has returned (and reset the context var),
    but it passes the request along: prefer that request's id.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        request = getattr(record, "request", None)
        if hasattr(request, "method"):  # a request object, not yet flattened by another handler's filter
            record.request_id = getattr(request, "request_id", None) or request_id_var.get()
            record.request = f"{request.method} {request.path}"  # keep the JSON line readable
        elif not hasattr(record, "request_id"):
            record.request_id = request_id_var.get()
        return True
