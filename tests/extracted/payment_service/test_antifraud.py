"""The antifraud rules, as a table (no database): the monolith's rules, score and reasons."""

from __future__ import annotations

from decimal import Decimal

import pytest

from extracted.payment_service.antifraud import FraudFacts, FraudRules, fraud_assess

RULES = FraudRules(
    reject_score=70,
    amount_high=Decimal("1000.00"),
    amount_very_high=Decimal("5000.00"),
    max_attempts_per_user=5,
    max_attempts_per_card=3,
    max_declines_per_card=2,
    max_cards_per_user=3,
)


@pytest.mark.parametrize(
    ("facts", "score", "reasons", "rejected"),
    [
        (FraudFacts(amount=Decimal("10")), 0, (), False),
        (FraudFacts(amount=Decimal("1000")), 25, ("amount_high",), False),
        (FraudFacts(amount=Decimal("5000")), 60, ("amount_very_high",), False),
        (FraudFacts(amount=Decimal("10"), bin_blocked=True), 100, ("bin_blocked",), True),
        (FraudFacts(amount=Decimal("10"), card_attempts=3), 50, ("velocity_card",), False),
        (
            FraudFacts(amount=Decimal("10"), user_attempts=5, card_declines=2),
            80,
            ("velocity_user", "card_declines"),
            True,
        ),
        (FraudFacts(amount=Decimal("10"), user_other_cards=3), 30, ("many_cards",), False),
        (
            FraudFacts(amount=Decimal("10"), card_country="US", shipping_country="FR"),
            15,
            ("country_mismatch",),
            False,
        ),
        (FraudFacts(amount=Decimal("1000"), card_attempts=3), 75, ("amount_high", "velocity_card"), True),
        (
            FraudFacts(amount=Decimal("5000"), card_country_blocked=True, shipping_country_blocked=True),
            100,
            ("card_country_blocked", "shipping_country_blocked", "amount_very_high"),
            True,
        ),
    ],
)
def test_the_score_reasons_and_verdict_of_each_rule(facts, score, reasons, rejected):
    verdict = fraud_assess(facts, RULES)
    assert (verdict.score, verdict.reasons, verdict.rejected) == (score, reasons, rejected)
