"""POST /shipping/quote against the rule table, and the default table the migration seeds."""

from decimal import Decimal

import pytest

from legacy_monolith.orders.models import ShippingRule
from legacy_monolith.orders.selectors import shipping_quote
from tests.factories import ProductFactory, ShippingRuleFactory

from .factories import CartItemFactory

pytestmark = pytest.mark.django_db

QUOTE = "/api/v1/orders/shipping/quote"


def test_a_quote_names_the_carrier_price_delay_and_rule(shopper, rate_table):
    response = shopper.post(
        QUOTE, {"country": "FR", "postal_code": "75001", "weight_grams": 800}, format="json"
    )
    assert response.status_code == 200
    assert response.json() == {
        "carrier": "colissimo",
        "price": "4.90",
        "delivery_days": 2,
        "rule": {"id": rate_table.id, "name": "FR flat"},
    }


def test_the_weight_defaults_to_the_carts(shopper, customer, rate_table):
    rate_table.max_weight_grams = 2000
    rate_table.save()
    heavy = ShippingRuleFactory(country="FR", min_weight_grams=2000, price="12.00", carrier="geodis")
    CartItemFactory(cart__user=customer, product=ProductFactory(weight_grams=700), quantity=3)
    response = shopper.post(QUOTE, {"country": "FR", "postal_code": "75001"}, format="json")
    assert response.json()["rule"]["id"] == heavy.id
    light = shopper.post(
        QUOTE, {"country": "FR", "postal_code": "75001", "weight_grams": 1999}, format="json"
    )
    assert light.json()["rule"]["id"] == rate_table.id


def test_the_most_specific_rule_wins(shopper, rate_table):
    ShippingRuleFactory(country="FR", postal_prefix="20", price="9.90", carrier="corsica-line")
    ShippingRuleFactory(country="FR", postal_prefix="201", price="11.90", carrier="ajaccio-express")
    ShippingRuleFactory(country="FR", postal_prefix="", priority=50, price="1.00", carrier="cheap")

    def carrier(code):
        body = shopper.post(QUOTE, {"country": "fr", "postal_code": code, "weight_grams": 1}, format="json")
        return body.json()["carrier"]

    assert carrier("20000") == "corsica-line"
    assert carrier("20100") == "ajaccio-express"
    assert carrier("75001") == "cheap"


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ({"country": "JP", "postal_code": "100-0001", "weight_grams": 10}, "no rule for the country"),
        ({"country": "FR", "postal_code": "75001", "weight_grams": 40_000}, "above every band"),
    ],
)
def test_no_matching_rule_is_422_shipping_unavailable(shopper, body, why):
    ShippingRule.objects.all().delete()
    ShippingRuleFactory(country="FR", max_weight_grams=30_000)
    response = shopper.post(QUOTE, body, format="json")
    assert response.status_code == 422, why
    assert response.json()["code"] == "shipping_unavailable"


def test_inactive_rules_are_ignored(shopper, rate_table):
    rate_table.is_active = False
    rate_table.save()
    response = shopper.post(
        QUOTE, {"country": "FR", "postal_code": "75001", "weight_grams": 1}, format="json"
    )
    assert response.json()["code"] == "shipping_unavailable"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"postal_code": "75001"}, "country"),
        ({"country": "FRA", "postal_code": "75001"}, "country"),
        ({"country": "F1", "postal_code": "75001"}, "country"),
        ({"country": 33, "postal_code": "75001"}, "country"),
        ({"country": "FR"}, "postal_code"),
        ({"country": "FR", "postal_code": "7500"}, "postal_code"),
        ({"country": "FR", "postal_code": "ABCDE"}, "postal_code"),
        ({"country": "US", "postal_code": "1234"}, "postal_code"),
        ({"country": "FR", "postal_code": "x" * 40}, "postal_code"),
        ({"country": "FR", "postal_code": ["75001"]}, "postal_code"),
        ({"country": "FR", "postal_code": "75001", "weight_grams": -1}, "weight_grams"),
        ({"country": "FR", "postal_code": "75001", "weight_grams": "500"}, "weight_grams"),
        ({"country": "FR", "postal_code": "75001", "weight_grams": 10**7}, "weight_grams"),
        ({"country": "FR", "postal_code": "75001", "weight_grams": 1.5}, "weight_grams"),
    ],
)
def test_bad_destinations_are_400_validation_errors(shopper, rate_table, body, field):
    response = shopper.post(QUOTE, body, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
    assert field in response.json()["extra"]["fields"]


def test_a_quote_needs_a_signed_in_customer(api_client):
    assert api_client.post(QUOTE, {}, format="json").status_code == 401


@pytest.mark.parametrize(
    ("country", "postal_code", "grams", "price", "carrier"),
    [
        ("FR", "75001", 500, "4.90", "colissimo"),
        ("FR", "75001", 1000, "7.90", "colissimo"),
        ("FR", "69001", 12_000, "14.90", "colissimo"),
        ("FR", "75001", 45_000, "39.00", "geodis"),
        ("FR", "20000", 500, "9.90", "colissimo"),
        ("FR", "97400", 500, "29.90", "colissimo"),
        ("DE", "10115", 2500, "9.90", "dhl"),
        ("BE", "1000", 500, "6.50", "bpost"),
        ("US", "10001", 3000, "34.90", "ups"),
        ("US", "96813", 100, "79.90", "ups"),
    ],
)
def test_the_seeded_rate_table_quotes_fr_de_be_and_us(country, postal_code, grams, price, carrier):
    quote = shipping_quote(country=country, postal_code=postal_code, weight_grams=grams)
    assert (quote.price, quote.carrier) == (Decimal(price), carrier)
