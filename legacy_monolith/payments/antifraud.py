"""Antifraud rules: pure functions from the facts of one charge attempt to a score (0-100) and reasons.

The facts (velocity counts, blocklist hits) are gathered by selectors and passed in, so every rule is
testable with a table and no database.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings

# Points per reason. 100 means "always refuse"; the others add up towards the reject threshold.
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


@dataclass(frozen=True)
class FraudRules:
    reject_score: int
    amount_high: Decimal
    amount_very_high: Decimal
    max_attempts_per_user: int
    max_attempts_per_card: int
    max_declines_per_card: int
    max_cards_per_user: int

    @classmethod
    def from_settings(cls) -> FraudRules:
        return cls(
            reject_score=settings.PAYMENT_FRAUD_REJECT_SCORE,
            amount_high=Decimal(str(settings.PAYMENT_FRAUD_AMOUNT_HIGH)),
            amount_very_high=Decimal(str(settings.PAYMENT_FRAUD_AMOUNT_VERY_HIGH)),
            max_attempts_per_user=settings.PAYMENT_FRAUD_MAX_ATTEMPTS_PER_USER,
            max_attempts_per_card=settings.PAYMENT_FRAUD_MAX_ATTEMPTS_PER_CARD,
            max_declines_per_card=settings.PAYMENT_FRAUD_MAX_DECLINES_PER_CARD,
            max_cards_per_user=settings.PAYMENT_FRAUD_MAX_CARDS_PER_USER,
        )


@dataclass(frozen=True)
class FraudFacts:
    """What is known about one attempt. Counts cover the velocity window and exclude this attempt;
    `card_country` is empty until the gateway has tokenized the card."""

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


def amount_reasons(facts: FraudFacts, rules: FraudRules) -> list[str]:
    if facts.amount >= rules.amount_very_high:
        return ["amount_very_high"]
    if facts.amount >= rules.amount_high:
        return ["amount_high"]
    return []


def velocity_reasons(facts: FraudFacts, rules: FraudRules) -> list[str]:
    reasons = []
    if facts.card_attempts >= rules.max_attempts_per_card:
        reasons.append("velocity_card")
    if facts.user_attempts >= rules.max_attempts_per_user:
        reasons.append("velocity_user")
    if facts.card_declines >= rules.max_declines_per_card:
        reasons.append("card_declines")
    if facts.user_other_cards >= rules.max_cards_per_user:
        reasons.append("many_cards")
    return reasons


def blocklist_reasons(facts: FraudFacts) -> list[str]:
    flags = {
        "bin_blocked": facts.bin_blocked,
        "card_country_blocked": facts.card_country_blocked,
        "shipping_country_blocked": facts.shipping_country_blocked,
    }
    return [reason for reason, hit in flags.items() if hit]


def geography_reasons(facts: FraudFacts) -> list[str]:
    """A card issued in another country than the parcel goes to: a weak signal on its own."""
    if facts.card_country and facts.shipping_country and facts.card_country != facts.shipping_country:
        return ["country_mismatch"]
    return []


def assess(facts: FraudFacts, rules: FraudRules) -> FraudVerdict:
    reasons = [
        *blocklist_reasons(facts),
        *amount_reasons(facts, rules),
        *velocity_reasons(facts, rules),
        *geography_reasons(facts),
    ]
    score = min(100, sum(WEIGHTS[r] for r in reasons))
    return FraudVerdict(score=score, reasons=tuple(reasons), rejected=score >= rules.reject_score)
