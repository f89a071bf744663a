"""The DRF exception handler; one copy, shared with the services in extracted.common.exceptions."""

from extracted.common.exceptions import error_body, exception_handler

__all__ = ["error_body", "exception_handler"]
