"""Request context for JSON logs; one copy, in chassis.logging."""

from chassis.logging import RequestIdFilter, request_id_var, trace_id_var

__all__ = ["RequestIdFilter", "request_id_var", "trace_id_var"]
