"""card_register: a card typed by the customer becomes a provider token and the facts antifraud needs.

The number reaches this function in memory only, goes to the provider's tokenizer and is dropped: what is
kept is the token (sealed), the BIN, the last four digits, the brand, the issuing country and a keyed
fingerprint. A provider that does not answer is retried briefly here (the number cannot wait for a
background retry: it is never written down).
"""

from __future__ import annotations

import secrets

from django.conf import settings
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_random_exponential

from ..errors import ApplicationError, gateway_unknown
from ..keys import card_fingerprint
from ..models import Card
from ..providers import CardDetails, CardToken, ProviderUnavailable, provider, provider_names

TOKENIZE_ATTEMPTS = 3


def digits_are_a_card(digits: str) -> bool:
    return digits.isdigit() and 12 <= len(digits) <= 19


def gateway_resolve(gateway: str | None) -> str:
    name = gateway or settings.PAYMENT_DEFAULT_GATEWAY
    if name not in provider_names():
        raise gateway_unknown(name, provider_names())
    return name


def card_tokenize(card: CardDetails, *, gateway: str, test: bool = False) -> CardToken:
    """The provider's token for this card: CardRejected for a card it refuses, ProviderUnavailable when
    it did not answer after a few quick attempts (exponential backoff, full jitter, about a second)."""
    client = provider(gateway, test=test)
    for attempt in Retrying(
        retry=retry_if_exception_type(ProviderUnavailable),
        wait=wait_random_exponential(multiplier=0.1, max=0.5),
        stop=stop_after_attempt(TOKENIZE_ATTEMPTS),
        reraise=True,
    ):
        with attempt:
            return client.tokenize(card)
    raise AssertionError("unreachable")  # pragma: no cover


def card_register(*, card: CardDetails, gateway: str | None) -> Card:
    """Tokenize and keep the card for a later charge (`card_id`); the number is not kept."""
    name = gateway_resolve(gateway)
    digits = card.digits
    if not digits_are_a_card(digits):
        raise ApplicationError(
            "card_invalid", "The card number is not a card number", extra={"field": "number"}
        )
    token = card_tokenize(card, gateway=name)
    return Card.objects.create(
        id="card_" + secrets.token_hex(12),
        gateway=name,
        token=token.token,
        fingerprint=card_fingerprint(digits),
        brand=token.brand,
        bin=token.bin,
        last4=token.last4,
        country=token.country,
        holder=card.holder[:100],
    )
