"""The DRF exception handler; one copy, shared with the services in chassis.exceptions."""

from chassis.exceptions import error_body, exception_handler

__all__ = ["error_body", "exception_handler"]
