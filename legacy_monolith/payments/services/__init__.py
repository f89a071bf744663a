"""Writes of the payments app."""

from .charges import payment_charge
from .refunds import payment_refund
from .webhooks import webhook_process

__all__ = ["payment_charge", "payment_refund", "webhook_process"]
