"""Antifraud rules as a table: facts in, score and reasons out. No database, no gateway."""

from decimal import Decimal

import pytest

from legacy_monolith.payments.antifraud import FraudFacts, FraudRules, assess

RULES = FraudRules(
    reject_score=70,
    amount_high=Decimal("1000.00"),
    amount_very_high=Decimal("5000.00"),
    max_attempts_per_user=5,
    max_attempts_per_card=3,
    max_declines_per_card=2,
    max_cards_per_user=3,
)


def facts(**overrides) -> FraudFacts:
    return FraudFacts(
        **{"amount": Decimal("49.90"), "card_country": "FR", "shipping_country": "FR", **overrides}
    )


@pytest.mark.parametrize(
    ("overrides", "score", "reasons", "rejected"),
    [
        ({}, 0, (), False),
        ({"amount": Decimal("999.99")}, 0, (), False),
        ({"amount": Decimal("1000.00")}, 25, ("amount_high",), False),
        ({"amount": Decimal("4999.99")}, 25, ("amount_high",), False),
        ({"amount": Decimal("5000.00")}, 60, ("amount_very_high",), False),
        ({"card_country": "US"}, 15, ("country_mismatch",), False),
        ({"card_country": ""}, 0, (), False),  # not tokenized yet: no geography signal
        (
            {"amount": Decimal("5000.00"), "card_country": "US"},
            75,
            ("amount_very_high", "country_mismatch"),
            True,
        ),
        ({"card_attempts": 2}, 0, (), False),
        ({"card_attempts": 3}, 50, ("velocity_card",), False),
        ({"user_attempts": 4}, 0, (), False),
        ({"user_attempts": 5}, 40, ("velocity_user",), False),
        ({"card_attempts": 3, "user_attempts": 5}, 90, ("velocity_card", "velocity_user"), True),
        ({"card_declines": 1}, 0, (), False),
        ({"card_declines": 2}, 40, ("card_declines",), False),
        ({"card_declines": 2, "card_attempts": 3}, 90, ("velocity_card", "card_declines"), True),
        ({"user_other_cards": 2}, 0, (), False),
        ({"user_other_cards": 3}, 30, ("many_cards",), False),
        ({"user_other_cards": 3, "user_attempts": 5}, 70, ("velocity_user", "many_cards"), True),
        ({"bin_blocked": True}, 100, ("bin_blocked",), True),
        ({"card_country_blocked": True}, 100, ("card_country_blocked",), True),
        ({"shipping_country_blocked": True}, 100, ("shipping_country_blocked",), True),
        (
            {"bin_blocked": True, "amount": Decimal("6000"), "card_country": "US"},
            100,
            ("bin_blocked", "amount_very_high", "country_mismatch"),
            True,
        ),
    ],
)
def test_the_score_and_reasons_of_an_attempt(overrides, score, reasons, rejected):
    verdict = assess(facts(**overrides), RULES)
    assert (verdict.score, verdict.reasons, verdict.rejected) == (score, reasons, rejected)


@pytest.mark.parametrize(("threshold", "rejected"), [(40, True), (41, False)])
def test_the_reject_threshold_is_inclusive(threshold, rejected):
    rules = FraudRules(**{**RULES.__dict__, "reject_score": threshold})
    assert assess(facts(user_attempts=5), rules).rejected is rejected


def test_rules_come_from_settings(settings):
    settings.PAYMENT_FRAUD_REJECT_SCORE = 55
    settings.PAYMENT_FRAUD_AMOUNT_HIGH = "10.00"
    rules = FraudRules.from_settings()
    assert (rules.reject_score, rules.amount_high) == (55, Decimal("10.00"))
    assert assess(facts(amount=Decimal("10.00")), rules).reasons == ("amount_high",)
