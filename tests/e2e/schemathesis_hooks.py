"""schemathesis hooks for the runs of tests/e2e/test_openapi_schemathesis*.py (loaded by `st` itself through
SCHEMATHESIS_HOOKS, in its own process).

With STRANGLER_IDENTITY_KEY set, every generated request carries the signed `X-Strangler-Identity` of a
staff user, bound to that request's method and path as the gateway binds it (contracts/identity.py): so a
service that trusts only the gateway's identity (the Product service's staff writes) is exercised as a
staff caller, not only as a 401. Without the variable nothing is added."""

from __future__ import annotations

import os
from urllib.parse import unquote, urlsplit

import schemathesis

from contracts.identity import HEADER, sign_identity

KEY = os.environ.get("STRANGLER_IDENTITY_KEY", "")
STAFF_USER_ID = 1


if KEY:

    @schemathesis.auth(refresh_interval=None)
    class GatewayStaffIdentity:
        """A fresh signed staff identity per request (each value is refused the second time: replay)."""

        def get(self, case, context):
            return STAFF_USER_ID

        def set(self, case, data, context):
            path = unquote(urlsplit(case.formatted_path).path)
            case.headers = case.headers or {}
            case.headers[HEADER] = sign_identity(
                key=KEY, user_id=data, roles=["staff"], scope=["catalog"], jti=f"st-{os.getpid()}",
                method=case.method, path=path,
            )  # fmt: skip
