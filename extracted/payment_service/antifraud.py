"""Antifraud: the monolith's rules, as pure functions from the facts of one charge attempt to a score
(0-100), its reasons and a verdict. The facts (velocity counts from velocity.py, blocklist hits) are
gathered by the charge service and passed in, so every rule is testable with a table.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings

# Points per reason: 100 always refuses; the others add up towards the reject threshold.
WEIGHTS = {
    "bin_blocked": 100,
    "card_country_blocked": 100,
    "shipping_country_blocked": 100,
    "amount_very_high": 60,
    "amount_high": 25,
    "velocity_card": 50,
    "velocity_user": 40,
    "card_declines": 40,
    "many_cards": 30,
    "country_mismatch": 15,
}


def weights_from_setting(text: str) -> dict[str, int]:
    """The monolith's weights with PAYMENT_FRAUD_WEIGHTS' overrides (`reason=points,...`)."""
    weights = dict(WEIGHTS)
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, _, points = item.partition("=")
        if name.strip() not in WEIGHTS or not points.strip().isdigit():
            raise ValueError(f"PAYMENT_FRAUD_WEIGHTS: {item!r} is not <reason>=<points> of a known reason")
        weights[name.strip()] = int(points)
    return weights


@dataclass(frozen=True)
class FraudRules:
    reject_score: int
    amount_high: Decimal
    amount_very_high: Decimal
    max_attempts_per_user: int
    max_attempts_per_card: int
    max_declines_per_card: int
    max_cards_per_user: int
    weights: tuple[tuple[str, int], ...] = tuple(WEIGHTS.items())

    @classmethod
    def from_settings(cls) -> FraudRules:
        return cls(
            reject_score=settings.PAYMENT_FRAUD_REJECT_SCORE,
            amount_high=Decimal(settings.PAYMENT_FRAUD_AMOUNT_HIGH),
            amount_very_high=Decimal(settings.PAYMENT_FRAUD_AMOUNT_VERY_HIGH),
            max_attempts_per_user=settings.PAYMENT_FRAUD_MAX_ATTEMPTS_PER_USER,
            max_attempts_per_card=settings.PAYMENT_FRAUD_MAX_ATTEMPTS_PER_CARD,
            max_declines_per_card=settings.PAYMENT_FRAUD_MAX_DECLINES_PER_CARD,
            max_cards_per_user=settings.PAYMENT_FRAUD_MAX_CARDS_PER_USER,
            weights=tuple(weights_from_setting(settings.PAYMENT_FRAUD_WEIGHTS).items()),
        )


@dataclass(frozen=True)
class FraudFacts:
    """What is known about one attempt; the counts cover the velocity window before this attempt."""

    amount: Decimal
    card_country: str = ""
    shipping_country: str = ""
    user_attempts: int = 0
    card_attempts: int = 0
    card_declines: int = 0
    user_other_cards: int = 0
    bin_blocked: bool = False
    card_country_blocked: bool = False
    shipping_country_blocked: bool = False


@dataclass(frozen=True)
class FraudVerdict:
    score: int
    reasons: tuple[str, ...]
    rejected: bool


def fraud_reasons(facts: FraudFacts, rules: FraudRules) -> list[str]:
    """Every rule that fires, in the monolith's order: blocklists, amount, velocity, geography."""
    reasons = [
        name
        for name, hit in (
            ("bin_blocked", facts.bin_blocked),
            ("card_country_blocked", facts.card_country_blocked),
            ("shipping_country_blocked", facts.shipping_country_blocked),
        )
        if hit
    ]
    if facts.amount >= rules.amount_very_high:
        reasons.append("amount_very_high")
    elif facts.amount >= rules.amount_high:
        reasons.append("amount_high")
    for name, count, limit in (
        ("velocity_card", facts.card_attempts, rules.max_attempts_per_card),
        ("velocity_user", facts.user_attempts, rules.max_attempts_per_user),
        ("card_declines", facts.card_declines, rules.max_declines_per_card),
        ("many_cards", facts.user_other_cards, rules.max_cards_per_user),
    ):
        if count >= limit:
            reasons.append(name)
    # A card issued in another country than the parcel goes to: a weak signal on its own.
    if facts.card_country and facts.shipping_country and facts.card_country != facts.shipping_country:
        reasons.append("country_mismatch")
    return reasons


def fraud_assess(facts: FraudFacts, rules: FraudRules) -> FraudVerdict:
    reasons = fraud_reasons(facts, rules)
    weights = dict(rules.weights)
    score = min(100, sum(weights[r] for r in reasons))
    return FraudVerdict(score=score, reasons=tuple(reasons), rejected=score >= rules.reject_score)
