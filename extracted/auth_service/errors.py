"""The chassis exception handler, plus the headers auth answers need: Retry-After on a lockout and
a Bearer WWW-Authenticate challenge on a refused token."""

from chassis.exceptions import exception_handler as chassis_exception_handler


def exception_handler(exc, context):
    response = chassis_exception_handler(exc, context)
    if response is None:
        return None
    retry_after = getattr(exc, "retry_after", None)
    if retry_after is not None:
        response["Retry-After"] = str(retry_after)
    challenge = getattr(exc, "www_authenticate", None)
    if challenge:
        response["WWW-Authenticate"] = challenge
    return response
