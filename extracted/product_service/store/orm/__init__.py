"""The ORM catalog store: PostgreSQL JSONB (trigram, full-text and GIN indexes) or SQLite JSON, one
code path, in parts along its seams: `imports` (the import path's versioned bulk writes), `queries` (v1
listing), `search` (v2 keyset pages and facets), `stock` (levels and reservations); verify and status
are here."""

from __future__ import annotations

from collections.abc import Sequence

from django.db.models import Count, Max

from .. import common
from ..port import RangeChecksum, StoreStats
from .base import MATCH_SQL, RANK_SQL, TSVECTOR_SQL
from .imports import OrmImports
from .queries import narrows
from .search import OrmSearch
from .stock import OrmStock


class OrmCatalogStore(OrmImports, OrmSearch, OrmStock):
    """The catalog store on the Django database `using` (the service's PRODUCT_DATABASE_URL)."""

    def range_checksums(self, ranges: Sequence[tuple[int, int]]) -> list[RangeChecksum]:
        return [
            common.range_checksum(
                lo,
                hi,
                self._products()
                .filter(id__gte=lo, id__lt=hi)
                .order_by("id")
                .values_list("id", "digest")
                .iterator(chunk_size=10000),
            )
            for lo, hi in ranges
        ]

    def digests(self, lo: int, hi: int) -> dict[int, str]:
        return dict(self._products().filter(id__gte=lo, id__lt=hi).order_by("id").values_list("id", "digest"))

    def stats(self) -> StoreStats:
        row = self._products().aggregate(
            count=Count("id"), max_version=Max("version"), last=Max("applied_at")
        )
        return StoreStats(row["count"], row["max_version"] or 0, row["last"])


__all__ = ["MATCH_SQL", "RANK_SQL", "TSVECTOR_SQL", "OrmCatalogStore", "narrows"]
