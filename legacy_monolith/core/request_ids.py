"""What a caller-supplied X-Request-ID may look like; one copy, in contracts.tracecontext.

No Django here: the gateway imports it too.
"""

from contracts.tracecontext import SAFE_REQUEST_ID

__all__ = ["SAFE_REQUEST_ID"]
