"""The ORM store on PostgreSQL answers searches from its indexes: the narrow search relation's trigram
index serves `q` (store/orm/text_search.py, the monolith's icontains semantics), the GIN index serves
attribute filters, the full-text index serves relevance. The planner is told to avoid
sequential scans, so a plan without the index means the index cannot serve that expression."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import BooleanField
from django.db.models.expressions import RawSQL

from extracted.product_service.models import CatalogProduct
from extracted.product_service.store.orm import MATCH_SQL, OrmCatalogStore
from extracted.product_service.store.port import ProductQuery

from .adapters import POSTGRESQL_AVAILABLE
from .dataset import CATEGORIES

pytestmark = [
    pytest.mark.skipif(
        not POSTGRESQL_AVAILABLE, reason="PRODUCT_DATABASE_URL is not PostgreSQL (make test sets it)"
    ),
    pytest.mark.django_db,
]

TRIGRAM_INDEXES = ["catalog_search_trgm"]


@pytest.mark.parametrize(
    ("query", "indexes"),
    [
        (ProductQuery(q="thinkpad", include_inactive=True), TRIGRAM_INDEXES),
        (ProductQuery(q="50%", include_inactive=True), TRIGRAM_INDEXES),
        (
            ProductQuery(attributes={"color": ["black", "white"]}, include_inactive=True),
            ["catalog_store_attributes_gin"],
        ),
    ],
    ids=["substring", "substring-with-wildcards", "attributes"],
)
def test_v1_filters_are_served_by_their_postgresql_indexes(query, indexes):
    # Nor a walk of a primary key with the condition as a filter: on an empty table it looks as cheap.
    plan = explain_without_seqscan(OrmCatalogStore(using="default")._filtered(query), index_scans=False)

    for index in indexes:
        assert f"Index Scan on {index}" in plan, plan


def test_the_full_text_match_of_relevance_is_served_by_its_postgresql_index():
    matching = CatalogProduct.objects.filter(
        RawSQL(MATCH_SQL, ["gaming laptop"], output_field=BooleanField())
    )

    plan = explain_without_seqscan(matching)

    assert "Index Scan on catalog_store_fulltext" in plan, plan


def explain_without_seqscan(queryset, *, index_scans: bool = True) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        if not index_scans:
            cursor.execute("SET LOCAL enable_indexscan = off")
    return queryset.explain()


def test_a_category_with_a_price_range_is_one_range_scan_of_its_index():
    """The category's ids are resolved first, so they and the price range are conditions of one index
    (the other indexes that could serve part of it are dropped in this test's transaction, as an
    empty table gives the planner no reason to prefer one)."""
    store = OrmCatalogStore(using="default")
    store.upsert_categories(CATEGORIES)
    with connection.cursor() as cursor:
        cursor.execute("DROP INDEX catalog_store_price_idx, catalog_store_category_idx")
    query = ProductQuery(category="laptops", min_price=Decimal("100"), max_price=Decimal("900"))

    plan = explain_without_seqscan(store._filtered(query))

    assert "catalog_store_category_price_idx" in plan, plan
    condition = plan.split("Index Cond:", 1)[1].split("\n", 1)[0]
    assert "category_id = ANY ('{1,2}'" in condition, plan
    assert "price >= '100'" in condition, plan
    assert "price <= '900'" in condition, plan
