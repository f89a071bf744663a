"""Pure pricing rules, tested with tables: postal codes, rule specificity, coupon terms and discounts."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from legacy_monolith.core.errors import ApplicationError
from legacy_monolith.orders.pricing import (
    coupon_check,
    coupon_discount,
    money,
    postal_code_normalize,
    shipping_rule_pick,
)

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("country", "raw", "normalized"),
    [
        ("FR", "75001", "75001"),
        ("FR", " 20000 ", "20000"),
        ("fr", "13008", "13008"),
        ("DE", "10115", "10115"),
        ("BE", "1000", "1000"),
        ("US", "94105", "94105"),
        ("US", "94105-1234", "94105-1234"),
        ("GB", "sw1a 1aa", "SW1A 1AA"),
        ("NL", "1012 ab", "1012 AB"),
        ("JP", "100-0001", "100-0001"),
    ],
)
def test_postal_codes_that_fit_their_country_are_normalized(country, raw, normalized):
    assert postal_code_normalize(country=country, postal_code=raw) == normalized


@pytest.mark.parametrize(
    ("country", "raw"),
    [
        ("FR", "7500"),
        ("FR", "750011"),
        ("FR", "75OO1"),
        ("DE", "ABCDE"),
        ("BE", "10000"),
        ("US", "9410"),
        ("US", "94105-12"),
        ("GB", "12345"),
        ("JP", ""),
        ("JP", "-123"),
        ("JP", "12345678901"),
        ("JP", "10$01"),
    ],
)
def test_postal_codes_that_do_not_fit_their_country_are_refused(country, raw):
    with pytest.raises(ValueError, match="not a valid postal code"):
        postal_code_normalize(country=country, postal_code=raw)


@dataclass
class Rule:
    id: int
    country: str = "FR"
    postal_prefix: str = ""
    min_weight_grams: int = 0
    max_weight_grams: int | None = None
    priority: int = 0
    is_active: bool = True


def pick(rules, postal_code="75001", weight=500, country="FR"):
    chosen = shipping_rule_pick(rules, country=country, postal_code=postal_code, weight_grams=weight)
    return chosen.id if chosen else None


def test_the_longest_matching_postal_prefix_wins():
    rules = [Rule(1), Rule(2, postal_prefix="7"), Rule(3, postal_prefix="750"), Rule(4, postal_prefix="751")]
    assert pick(rules, "75001") == 3
    assert pick(rules, "75101") == 4
    assert pick(rules, "78000") == 2
    assert pick(rules, "13008") == 1


def test_weight_bands_are_half_open_and_an_empty_max_is_open_ended():
    rules = [
        Rule(1, max_weight_grams=1000),
        Rule(2, min_weight_grams=1000, max_weight_grams=5000),
        Rule(3, min_weight_grams=5000),
    ]
    assert [pick(rules, weight=w) for w in (0, 999, 1000, 4999, 5000, 10**6)] == [1, 1, 2, 2, 3, 3]


def test_a_parcel_outside_every_band_has_no_rule():
    assert pick([Rule(1, min_weight_grams=100, max_weight_grams=1000)], weight=50) is None
    assert pick([Rule(1, min_weight_grams=100, max_weight_grams=1000)], weight=1000) is None


def test_only_rules_of_the_destination_country_apply():
    rules = [Rule(1, country="DE"), Rule(2, country="FR")]
    assert pick(rules, country="FR") == 2
    assert pick(rules, "10115", country="de") == 1
    assert pick(rules, "1000", country="BE") is None


def test_inactive_rules_never_apply():
    assert pick([Rule(1, is_active=False), Rule(2, postal_prefix="75", is_active=False)]) is None
    assert pick([Rule(1), Rule(2, postal_prefix="75", is_active=False)]) == 1


def test_a_narrower_weight_band_beats_an_open_one_with_the_same_prefix():
    assert pick([Rule(1), Rule(2, min_weight_grams=0, max_weight_grams=1000)], weight=500) == 2


def test_priority_breaks_ties_then_the_older_rule_wins():
    assert pick([Rule(1, priority=0), Rule(2, priority=5), Rule(3, priority=1)]) == 2
    assert pick([Rule(7), Rule(3)]) == 3


def test_prefix_beats_priority():
    assert pick([Rule(1, priority=100), Rule(2, postal_prefix="75")]) == 2


def test_prefixes_match_the_compact_form_of_codes_with_spaces_or_hyphens():
    assert (
        pick([Rule(1, country="US"), Rule(2, country="US", postal_prefix="9410")], "94105-1234", country="US")
        == 2
    )
    assert pick([Rule(1, country="GB", postal_prefix="SW1A1")], "SW1A 1AA", country="GB") == 1


@dataclass
class Terms:
    code: str = "SAVE"
    kind: str = "percent"
    value: Decimal = Decimal("10")
    min_order_total: Decimal = Decimal("0")
    valid_from: datetime | None = None
    expires_at: datetime | None = None
    usage_limit: int | None = None
    times_used: int = 0
    is_active: bool = True


@pytest.mark.parametrize(
    ("terms", "subtotal", "code"),
    [
        (Terms(is_active=False), "50", "coupon_inactive"),
        (Terms(valid_from=NOW + timedelta(seconds=1)), "50", "coupon_not_yet_valid"),
        (Terms(expires_at=NOW), "50", "coupon_expired"),
        (Terms(expires_at=NOW - timedelta(days=1)), "50", "coupon_expired"),
        (Terms(usage_limit=3, times_used=3), "50", "coupon_exhausted"),
        (Terms(min_order_total=Decimal("50.00")), "49.99", "coupon_min_order_not_met"),
        (Terms(is_active=False, expires_at=NOW - timedelta(days=1)), "50", "coupon_inactive"),
    ],
)
def test_a_coupon_that_does_not_apply_says_why(terms, subtotal, code):
    with pytest.raises(ApplicationError) as caught:
        coupon_check(terms, subtotal=Decimal(subtotal), now=NOW)
    assert caught.value.code == code
    assert caught.value.extra["code"] == "SAVE"


@pytest.mark.parametrize(
    ("terms", "subtotal"),
    [
        (Terms(), "0"),
        (Terms(valid_from=NOW, expires_at=NOW + timedelta(seconds=1)), "10"),
        (Terms(usage_limit=3, times_used=2), "10"),
        (Terms(min_order_total=Decimal("50.00")), "50.00"),
    ],
)
def test_a_coupon_within_its_terms_applies(terms, subtotal):
    coupon_check(terms, subtotal=Decimal(subtotal), now=NOW)


@pytest.mark.parametrize(
    ("kind", "value", "subtotal", "discount"),
    [
        ("percent", "10", "100.00", "10.00"),
        ("percent", "15", "19.99", "3.00"),  # 2.9985 rounds half up
        ("percent", "12.5", "0.04", "0.01"),  # 0.005 rounds half up
        ("percent", "100", "59.97", "59.97"),
        ("percent", "10", "0.00", "0.00"),
        ("fixed", "5", "59.97", "5.00"),
        ("fixed", "5", "3.50", "3.50"),  # never more than the subtotal
        ("fixed", "0.01", "0.00", "0.00"),
    ],
)
def test_the_discount_is_rounded_to_cents_and_never_exceeds_the_subtotal(kind, value, subtotal, discount):
    assert coupon_discount(kind=kind, value=Decimal(value), subtotal=Decimal(subtotal)) == Decimal(discount)


def test_an_unknown_coupon_kind_is_a_programming_error():
    with pytest.raises(ValueError, match="unknown coupon kind"):
        coupon_discount(kind="bogo", value=Decimal(1), subtotal=Decimal(10))


def test_money_rounds_half_up_to_cents():
    assert [money(v) for v in ("1.005", "1.004", "2", 3)] == [
        Decimal("1.01"),
        Decimal("1.00"),
        Decimal("2.00"),
        Decimal("3.00"),
    ]
