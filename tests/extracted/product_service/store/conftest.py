"""Fixtures of the catalog store contract suite: `catalog_store` is every reachable adapter in turn
(see adapters.py), empty; `seeded_store` holds the reference catalogue (dataset.py)."""

from __future__ import annotations

import pytest

from . import dataset
from .adapters import ADAPTERS, MONGO_VIA_MONGOMOCK, make_store


@pytest.fixture(params=ADAPTERS)
def adapter(request) -> str:
    return request.param


@pytest.fixture
def catalog_store(adapter):
    return make_store(adapter)


@pytest.fixture
def seeded_store(catalog_store):
    catalog_store.upsert_categories(dataset.CATEGORIES)
    catalog_store.upsert_products(dataset.products())
    return catalog_store


@pytest.fixture
def skip_on_mongomock(adapter):
    """Skip a test for mongomock alone, naming the MongoDB feature it lacks."""

    def skip(feature: str) -> None:
        if adapter == MONGO_VIA_MONGOMOCK:
            pytest.skip(f"mongomock does not implement {feature}; the real-MongoDB path is not run here")

    return skip
