"""Who is calling, as far as the Product service may trust it.

The service sits behind the gateway, which strips every client-supplied `X-Strangler-*` header and sets
`X-Strangler-User-Id` for a caller it has authenticated (strangler_proxy/identity.py). That id is the only
identity the service trusts; it carries no role, and the service has no user table to look one up in.
So every caller is a non-staff caller here: `include_inactive=true` is 403 permission_denied and an inactive
product is 404, exactly what the monolith answers an anonymous or customer request. Staff reads (and every
write) stay on the monolith until the Auth service's tokens carry roles the service can verify itself.
"""

USER_ID_HEADER = "X-Strangler-User-Id"


def caller_user_id(request) -> str | None:
    """The user id the gateway vouched for (logs and metrics only; grants nothing)."""
    return request.headers.get(USER_ID_HEADER) or None


def caller_is_staff(request) -> bool:
    """Never, until a verifiable role reaches the service (see the module docstring)."""
    return False
