"""Request context for JSON logs; one copy, in extracted.common.logging."""

from extracted.common.logging import RequestIdFilter, request_id_var, trace_id_var

__all__ = ["RequestIdFilter", "request_id_var", "trace_id_var"]
