"""The v1 `q` search on PostgreSQL, through a narrow relation.

The monolith's search is `icontains` on name OR description OR sku: three `UPPER(col) LIKE UPPER('%q%')`
per product, over a product row of ~1.5 KB (the JSONB document rides along) in a table larger than
shared_buffers, so a broad term rechecks tens of thousands of wide rows. Migration 0005 keeps, by trigger,
`product_service_catalogsearch(id, is_active, haystack)` where haystack = UPPER(sku) US UPPER(name) US
UPPER(description) (US = chr(31), the unit separator; SKU first, so a SKU-prefix search stops early on the
rows it matches), ~300 bytes a row, with one trigram index. Then `haystack LIKE UPPER('%q%')` is the same
predicate, evaluated once per row on a pre-upper-cased string that stays in shared_buffers:

    UPPER(name) LIKE p OR UPPER(description) LIKE p OR UPPER(sku) LIKE p  <=>  haystack LIKE p

for any pattern p = UPPER('%q%') whose q holds no US (no match can span a separator; UPPER maps character
by character). A q holding US, and every search on SQLite, goes to the three columns as before.

A q-only listing in id order (the shop's search box) reads nothing but this relation for its page ids and
its total, in two statements: the page walks it in id order and stops after the page (broad terms) or
takes a bitmap of the trigram index (rare ones); the total is a plain count. COUNT(*) OVER () over the
matches, which the other listings use, materialises every match and cost as much as the count itself.
"""

from __future__ import annotations

from django.db import connections
from django.db.models import F, Lookup, QuerySet

from ...models import CatalogSearch
from ..port import ProductQuery

SEPARATOR = "\x1f"
# What migration 0005's trigger stores (it keeps a frozen copy).
HAYSTACK_SQL = "upper(sku::text) || chr(31) || upper(name::text) || chr(31) || upper(description)"


class LikeUpper(Lookup):
    """`lhs LIKE UPPER(rhs)`: the right half of Django's icontains on PostgreSQL, the left already upper."""

    lookup_name = "like_upper"
    prepare_rhs = False

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return f"{lhs} LIKE UPPER({rhs})", [*lhs_params, *rhs_params]


def usable(vendor: str, q: str | None) -> bool:
    """Whether `q` is searched through the relation (PostgreSQL, and no separator in q)."""
    return vendor == "postgresql" and bool(q) and SEPARATOR not in q


def only_q(query: ProductQuery) -> bool:
    """A listing that narrows by q alone (and the active flag)."""
    return bool(query.q) and not (
        query.category
        or query.attributes
        or query.in_stock is not None
        or query.min_price is not None
        or query.max_price is not None
    )


def matches(using: str, q: str, *, include_inactive: bool = True) -> QuerySet[CatalogSearch]:
    """The relation's rows whose text contains q, case-insensitively, as Django's icontains means it
    (the same escaping of %, _ and \\ as its pattern)."""
    pattern = f"%{connections[using].ops.prep_for_like_query(q)}%"
    rows = CatalogSearch.objects.using(using).filter(LikeUpper(F("haystack"), pattern))
    return rows if include_inactive else rows.filter(is_active=True)


def page_ids(using: str, query: ProductQuery, offset: int, limit: int) -> tuple[list[int], int]:
    """The ids of one page of a q-only listing in id order, and the total of its matches."""
    found = matches(using, query.q, include_inactive=query.include_inactive)
    ids = list(found.order_by("id").values_list("id", flat=True)[offset : offset + limit])
    return ids, found.count()
