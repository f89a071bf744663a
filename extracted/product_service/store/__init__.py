"""The catalog store: the port (`port.CatalogStore`) and the adapter chosen by CATALOG_STORE_URL."""

from __future__ import annotations

from urllib.parse import urlsplit

from .port import CatalogStore

MONGO_SCHEMES = ("mongodb", "mongodb+srv")
DEFAULT_MONGO_DATABASE = "product_catalog"


def build_store(url: str, *, using: str = "default") -> CatalogStore:
    """`orm` (the ORM adapter on the Django database `using`) or a `mongodb://host/db` URL (the Mongo
    adapter; the path names the database, `product_catalog` when absent)."""
    if url in ("", "orm"):
        from .orm import OrmCatalogStore

        return OrmCatalogStore(using=using)
    parts = urlsplit(url)
    if parts.scheme in MONGO_SCHEMES:
        import pymongo

        from .mongo import MongoCatalogStore

        # A store without its server should fail start-up in seconds, not pymongo's default 30.
        client = pymongo.MongoClient(url, tz_aware=True, serverSelectionTimeoutMS=5000)
        return MongoCatalogStore(client[parts.path.strip("/") or DEFAULT_MONGO_DATABASE])
    raise ValueError(f"CATALOG_STORE_URL must be 'orm' or a mongodb:// URL, not {url!r}")


def store_from_settings() -> CatalogStore:
    """The store settings.CATALOG_STORE_URL names (read once by the service's settings)."""
    from django.conf import settings

    return build_store(getattr(settings, "CATALOG_STORE_URL", "orm"))


__all__ = ["CatalogStore", "build_store", "store_from_settings"]
