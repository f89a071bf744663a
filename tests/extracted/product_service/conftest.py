"""The Product service's own test session (settings extracted.product_service.settings, database
PRODUCT_DATABASE_URL): run it with `pytest --ds=extracted.product_service.settings
--confcutdir=tests/extracted/product_service tests/extracted/product_service`.
"""

from __future__ import annotations

import os
import uuid

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from extracted.product_service import cache, selectors
from extracted.product_service.cache import LocalBackend, ReadCache, RedisBackend
from tests.chassis.conftest import amqp_url, rabbit  # noqa: F401 (RabbitMQ fixtures, shared)

from .documents import CATEGORIES, catalog


@pytest.fixture
def redis_url() -> str:
    url = os.environ.get("REDIS_URL")
    if not url:
        pytest.fail("the cache tests run against a real Redis: set REDIS_URL (make test does)")
    return url


@pytest.fixture
def cache_prefix() -> str:
    """Keys unique to this test: the Redis server is shared, nothing is ever flushed."""
    return f"test-product-service-{uuid.uuid4().hex}"


@pytest.fixture
def redis_cache(redis_url, cache_prefix):
    """The process's read cache on the real Redis, under this test's prefix; its keys deleted after."""
    read_cache = ReadCache(RedisBackend(redis_url), prefix=cache_prefix, ttl_seconds=60)
    previous, cache._cache = cache._cache, read_cache
    yield read_cache
    cache._cache = previous
    client = read_cache.backend.client
    keys = list(client.scan_iter(f"{cache_prefix}:*", count=10_000))
    if keys:
        client.delete(*keys)


@pytest.fixture
def local_cache(tmp_path):
    read_cache = ReadCache(LocalBackend(counter_dir=tmp_path / "counters"), prefix="local", ttl_seconds=60)
    previous, cache._cache = cache._cache, read_cache
    yield read_cache
    cache._cache = previous


@pytest.fixture
def store(db):
    return selectors.catalog_store()


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def internal_client() -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {settings.INTERNAL_API_TOKEN}")
    return client


@pytest.fixture
def seeded(store, local_cache):
    """30 products over 3 categories in the store (products 11 and 22 inactive)."""
    store.upsert_categories(CATEGORIES)
    docs = catalog(30)
    store.upsert_products(docs)
    return docs
