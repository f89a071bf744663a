"""What every part of the ORM catalog store shares: the Django database it runs on, the product
queryset, and the SQL of the PostgreSQL full-text document (the migration indexes that exact expression)."""

from __future__ import annotations

from django.db import connections
from django.db.models import QuerySet

from ...models import CatalogProduct
from .. import common

# The full-text document of a product on PostgreSQL; the migration indexes this exact expression.
TSVECTOR_SQL = "to_tsvector('simple'::regconfig, (name::text || ' ' || sku::text || ' ' || description))"
# float8, so the rank a cursor carries compares equal to the rank the next query computes.
RANK_SQL = f"ts_rank({TSVECTOR_SQL}, plainto_tsquery('simple'::regconfig, %s))::float8"
MATCH_SQL = f"{TSVECTOR_SQL} @@ plainto_tsquery('simple'::regconfig, %s)"


class OrmStoreBase:
    """The catalog store on the Django database `using` (the service's PRODUCT_DATABASE_URL)."""

    def __init__(self, *, using: str = "default", chunk_size: int = common.IMPORT_CHUNK):
        self.using = using
        self.chunk_size = chunk_size

    @property
    def supports_relevance(self) -> bool:
        return self._vendor == "postgresql"

    @property
    def _vendor(self) -> str:
        return connections[self.using].vendor

    def _products(self) -> QuerySet[CatalogProduct]:
        return CatalogProduct.objects.using(self.using)
