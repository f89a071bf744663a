"""What a caller-supplied X-Request-ID may look like; one copy, in extracted.common.tracecontext.

No Django here: the gateway imports it too.
"""

from extracted.common.tracecontext import SAFE_REQUEST_ID

__all__ = ["SAFE_REQUEST_ID"]
