"""Fixtures of the comparator tests: the `shadow` database and a way to record crafted pairs in it."""

import pytest

from shadow.comparator import Comparator
from shadow.rules import Rules, default_rules
from shadow.store import results_record

shadow_db = pytest.mark.django_db(databases=["default", "shadow"])


@pytest.fixture
def record():
    """Compare pairs with `rules` (default: the built-in rules) and store them; returns the outcome."""

    def run(pairs, rules: Rules | None = None):
        comparator = Comparator(rules or default_rules())
        return results_record(items=[(pair, comparator.compare(pair)) for pair in pairs])

    return run
