"""The catalog store adapters the contract suite runs against, whichever are reachable here:

- `orm_postgresql`: the ORM adapter on the session's own database when PRODUCT_DATABASE_URL is
  PostgreSQL (make test sets it);
- `orm_sqlite`: the ORM adapter on a SQLite file, the embedded profile (a second database alias);
- `mongo_via_mongomock`: the Mongo adapter on mongomock, since no MongoDB server runs on the test
  machine. mongomock, not MongoDB: what it lacks (e.g. $text) is skipped for it alone, by name.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
import uuid
from pathlib import Path

import mongomock
import pytest
from django.conf import settings
from django.db import connections
from mongomock.collection import BulkOperationBuilder

from extracted.product_service.store.mongo import MongoCatalogStore
from extracted.product_service.store.orm import OrmCatalogStore

SQLITE_ALIAS = "catalog_store_sqlite"
ORM_POSTGRESQL = "orm_postgresql"
ORM_SQLITE = "orm_sqlite"
MONGO_VIA_MONGOMOCK = "mongo_via_mongomock"
ADAPTERS = (ORM_POSTGRESQL, ORM_SQLITE, MONGO_VIA_MONGOMOCK)


def _sqlite_alias() -> str:
    """The alias of a SQLite database: the session's own if it is SQLite, else a throwaway file
    registered as a second database (pytest-django creates and migrates it like the default one)."""
    if settings.DATABASES["default"]["ENGINE"].endswith("sqlite3"):
        return "default"
    if SQLITE_ALIAS not in settings.DATABASES:
        folder = tempfile.mkdtemp(prefix="catalog-store-")
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        path = str(Path(folder) / "store.sqlite3")
        config = {"ENGINE": "django.db.backends.sqlite3", "NAME": path, "TEST": {"NAME": path}}
        settings.DATABASES[SQLITE_ALIAS] = config
        configured = connections.configure_settings(
            {"default": settings.DATABASES["default"], SQLITE_ALIAS: config}
        )
        connections.settings[SQLITE_ALIAS] = configured[SQLITE_ALIAS]
    return SQLITE_ALIAS


SQLITE_DATABASE = _sqlite_alias()
POSTGRESQL_AVAILABLE = settings.DATABASES["default"]["ENGINE"].endswith("postgresql")
DATABASES = sorted({"default", SQLITE_DATABASE})


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
    """A new, empty store of the named adapter (a fresh mongomock database; the ORM ones share the
    test's database, emptied between tests by pytest-django)."""
    if adapter == ORM_POSTGRESQL:
        if not POSTGRESQL_AVAILABLE:
            pytest.skip("PRODUCT_DATABASE_URL is not PostgreSQL (make test sets it)")
        return OrmCatalogStore(using="default")
    if adapter == MONGO_VIA_MONGOMOCK:
        return MongoCatalogStore(mongomock.MongoClient(tz_aware=True)[f"catalog_{uuid.uuid4().hex}"])
    return OrmCatalogStore(using=SQLITE_DATABASE)
