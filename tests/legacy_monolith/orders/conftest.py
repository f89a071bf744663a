"""Fixtures for the orders tests: a signed-in customer and a rate table we control."""

import pytest

from legacy_monolith.orders.models import ShippingRule
from tests.factories import ShippingRuleFactory


@pytest.fixture
def shopper(customer, client_for):
    """An authenticated API client for `customer`."""
    return client_for(customer)


@pytest.fixture
def rate_table(db):
    """Replace the seeded rate table with one rule per test's liking: FR anywhere, any weight, 4.90."""
    ShippingRule.objects.all().delete()
    return ShippingRuleFactory(
        name="FR flat", country="FR", price="4.90", carrier="colissimo", delivery_days=2
    )
