"""Which events are critical, which service may publish each, and the ES256 signature over an envelope.

A critical event (money, an order's outcome, a role) is signed by its publishing service with that service's
event-signing key (chassis/event_keys.py); a consumer verifies it against the publisher's JWKS, served by the
publisher at EVENT_KEYS_PATH. `PUBLISHERS` is the declared table: a critical type published by any other
source is refused, whatever key signed it, so a compromised Notification service cannot mint a
`payment.captured`. The monolith is no publisher of a critical type today (its outbox relays catalog and
account events); when its triggers publish one during a transition, its relay signs it with the monolith's
own key (source `monolith`) and the type's row below names `monolith` next to the service, for that time.
"""

from __future__ import annotations

from collections.abc import Callable

from cryptography.hazmat.primitives.asymmetric import ec

from contracts.events import Envelope
from kernel.crypto import es256_sign, es256_verify

EVENT_KEYS_PATH = "/.well-known/event-keys.json"

# type pattern ("x.*": every type under x.) -> the sources that may publish it; every pattern is critical.
PUBLISHERS: dict[str, tuple[str, ...]] = {
    "payment.*": ("payment_service",),
    "refund.*": ("payment_service",),
    "order.confirmed": ("order_service",),
    "order.cancelled": ("order_service",),
    "user.role_changed": ("auth_service",),
    # the checkout saga's commands and replies carry payment-authorisation outcomes (contracts/saga.py): the
    # Order service's participants send the replies and its orchestrator the commands, both through its
    # outbox relay, so a forged `order_saga.reply.authorize_payment` cannot confirm an unpaid order
    "order_saga.command.*": ("order_service",),
    "order_saga.reply.*": ("order_service",),
}

KeyLookup = Callable[[str, str], ec.EllipticCurvePublicKey | None]  # (source, kid) -> key, None if unknown


def _matches(pattern: str, event_type: str) -> bool:
    if pattern.endswith(".*"):
        return event_type.startswith(pattern[:-1])
    return event_type == pattern


def publishers_of(event_type: str) -> tuple[str, ...] | None:
    """The sources that may publish `event_type` when it is critical; None when it is not critical."""
    for pattern, sources in PUBLISHERS.items():
        if _matches(pattern, event_type):
            return sources
    return None


def is_critical(event_type: str) -> bool:
    return publishers_of(event_type) is not None


def sign(envelope: Envelope, *, kid: str, key: ec.EllipticCurvePrivateKey) -> Envelope:
    """The envelope signed by `key` (named `kid`)."""
    return envelope.signed(kid, es256_sign(key, envelope.signing_input(kid)))


class Refused(Exception):
    """Why an event is not to be trusted (the consumer dead-letters it with this reason)."""

    def __init__(self, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.code = code


def verify(envelope: Envelope, key_for: KeyLookup) -> None:
    """Raise Refused unless the envelope may be processed: a critical type must come from a source the
    table allows and carry a valid signature by a key that source publishes; any signature present on a
    non-critical event must be valid too. (The digest was checked when the envelope was parsed.)"""
    allowed = publishers_of(envelope.type)
    name = f"{envelope.type} {envelope.id} from {envelope.source}"
    if allowed is not None and envelope.source not in allowed:
        raise Refused("wrong_publisher", f"{name}: only {', '.join(allowed)} may publish {envelope.type}")
    if envelope.signature is None or envelope.kid is None:
        if allowed is not None:
            raise Refused("unsigned", f"{name}: a critical event must be signed")
        return
    key = key_for(envelope.source, envelope.kid)
    if key is None:
        raise Refused(
            "unknown_key", f"{name}: kid {envelope.kid} is not among {envelope.source}'s event keys"
        )
    if not es256_verify(key, envelope.signing_input(), envelope.signature):
        raise Refused("bad_signature", f"{name}: the signature does not verify with kid {envelope.kid}")
