"""What every part of the Mongo catalog store shares: its collections and their indexes, and the
derived fields filters and orderings use (price in cents, a fixed-width timestamp key)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pymongo
from pymongo.database import Database

from .. import common

DUPLICATE_KEY = 11000
PRICE_CEILING_CENTS = 10**10  # above the contract's largest price, 99999999.99
SORT_FIELDS = {
    "id": "_id",
    "price": "price_cents",
    "name": "name",
    "created_at": "created_key",
    "stock": "stock",
}


def price_cents(price: Decimal | str) -> int:
    return int(Decimal(price) * 100)


def created_key(timestamp: str) -> str:
    """A contract timestamp as a fixed-width string (always 6 fraction digits) that sorts by time;
    BSON dates keep milliseconds only, which would merge distinct microseconds."""
    return datetime.fromisoformat(timestamp).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class MongoStoreBase:
    """The catalog store in a MongoDB database (collections products, categories, tombstones,
    stock_ledger). Indexes are created on construction (create_index is idempotent)."""

    supports_relevance = True

    def __init__(self, database: Database, *, chunk_size: int = common.IMPORT_CHUNK):
        self.db = database
        self.chunk_size = chunk_size
        self.products = database["products"]
        self.categories = database["categories"]
        self.tombstones = database["tombstones"]
        self.ledger = database["stock_ledger"]
        self.ensure_indexes()

    def ensure_indexes(self) -> None:
        asc = pymongo.ASCENDING
        for field in SORT_FIELDS.values():
            if field != "_id":
                self.products.create_index([("is_active", asc), (field, asc), ("_id", asc)])
        self.products.create_index([("category_id", asc), ("is_active", asc)])
        self.products.create_index([("sku", asc)])
        self.products.create_index([("version", asc)])
        self.products.create_index([("doc.attributes.$**", asc)], name="attributes_wildcard")
        self.products.create_index(
            [("name", pymongo.TEXT), ("sku", pymongo.TEXT), ("description", pymongo.TEXT)],
            name="fulltext",
            default_language="none",
        )
        self.categories.create_index([("slug", asc)])
        self.categories.create_index([("parent_id", asc)])
        self.categories.create_index([("name", asc), ("_id", asc)])
