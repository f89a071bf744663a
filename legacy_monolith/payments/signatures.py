"""Verify provider webhook signatures; one copy, shared with the Payment service
(contracts.webhook_signatures)."""

from contracts.webhook_signatures import verify_signature

__all__ = ["verify_signature"]
