"""Fixtures of the catalog store contract suite: `catalog_store` is every reachable adapter in turn
(see adapters.py), empty; `seeded_store` holds the reference catalogue (dataset.py)."""

from __future__ import annotations

import uuid

import mongomock
import pytest
from mongomock.collection import BulkOperationBuilder

from extracted.product_service.store.mongo import MongoCatalogStore
from extracted.product_service.store.orm import OrmCatalogStore

from . import dataset
from .adapters import ADAPTERS, MONGO_VIA_MONGOMOCK, ORM_POSTGRESQL, POSTGRESQL_AVAILABLE, SQLITE_DATABASE


def _accept_sort_keyword(method):
    """pymongo 4.11+ passes `sort=` to a bulk's add_update/add_replace; mongomock 4.3 predates it."""

    def add(self, *args, sort=None, **kwargs):
        if sort:
            raise NotImplementedError("mongomock: sorted bulk updates")
        return method(self, *args, **kwargs)

    return add


if not getattr(BulkOperationBuilder, "_accepts_sort", False):
    BulkOperationBuilder.add_update = _accept_sort_keyword(BulkOperationBuilder.add_update)
    BulkOperationBuilder.add_replace = _accept_sort_keyword(BulkOperationBuilder.add_replace)
    BulkOperationBuilder._accepts_sort = True


def make_store(adapter: str):
    if adapter == ORM_POSTGRESQL:
        if not POSTGRESQL_AVAILABLE:
            pytest.skip("PRODUCT_DATABASE_URL is not PostgreSQL (make test sets it)")
        return OrmCatalogStore(using="default")
    if adapter == MONGO_VIA_MONGOMOCK:
        return MongoCatalogStore(mongomock.MongoClient(tz_aware=True)[f"catalog_{uuid.uuid4().hex}"])
    return OrmCatalogStore(using=SQLITE_DATABASE)


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
