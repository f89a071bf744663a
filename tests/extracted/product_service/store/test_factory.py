"""CATALOG_STORE_URL picks the adapter."""

from __future__ import annotations

import pytest

from extracted.product_service.store import build_store, store_from_settings
from extracted.product_service.store.orm import OrmCatalogStore
from extracted.product_service.store.port import CatalogStore

from .adapters import DATABASES


@pytest.mark.parametrize("url", ["orm", ""])
def test_orm_names_the_orm_adapter_on_the_service_database(url):
    store = build_store(url)

    assert isinstance(store, OrmCatalogStore)
    assert store.using == "default"
    assert isinstance(store, CatalogStore)


def test_the_settings_name_the_store(settings):
    settings.CATALOG_STORE_URL = "orm"

    assert isinstance(store_from_settings(), OrmCatalogStore)


@pytest.mark.parametrize("url", ["postgres://postgres@127.0.0.1/product", "mongo://x", "ORM"])
def test_any_other_url_is_refused_at_start(url):
    with pytest.raises(ValueError, match="CATALOG_STORE_URL"):
        build_store(url)


@pytest.mark.django_db(databases=DATABASES)
def test_every_adapter_offers_the_whole_port(catalog_store):
    missing = [
        name for name in dir(CatalogStore) if not name.startswith("_") and not hasattr(catalog_store, name)
    ]

    assert missing == []
    assert isinstance(catalog_store, CatalogStore)
