"""The v1 `q` search's narrow relation on PostgreSQL (store/orm/text_search.py, migration 0005): the
trigger keeps it equal to the products whatever writes them, it finds exactly what the monolith's three
icontains find (wildcards, case, accents and the separator included), and a q-only listing reads its page
and total from it alone."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.models import Q
from django.test.utils import CaptureQueriesContext

from extracted.product_service.models import CatalogProduct, CatalogSearch
from extracted.product_service.store.orm import OrmCatalogStore
from extracted.product_service.store.orm.text_search import SEPARATOR, matches
from extracted.product_service.store.port import ProductQuery

from .adapters import POSTGRESQL_AVAILABLE
from .dataset import CATEGORIES, product_doc

pytestmark = [
    pytest.mark.skipif(
        not POSTGRESQL_AVAILABLE, reason="PRODUCT_DATABASE_URL is not PostgreSQL (make test sets it)"
    ),
    pytest.mark.django_db,
]

# Names, descriptions and SKUs that tell the predicates apart if they were not the same.
TRICKY = [
    product_doc(20, name="Straße Router", description="ÉCRAN plein", sku="DE-STR"),
    product_doc(21, name="100% cotton_case", description="back\\slash", sku="PCT_01"),
    product_doc(22, name="Pro", description="", sku="P-1"),
    product_doc(23, name="Tail", description="ends with Pro", sku="T-2"),
    product_doc(24, name="Sep", description=f"a{SEPARATOR}b", sku="S-3"),
    product_doc(25, name="Mixed CaSe", description="naïve café", sku="mc-4", is_active=False),
]
QUERIES = [
    "thinkpad", "THINKPAD", "pad x", "50%", "%", "_", "ACC_", "c_ble", "\\", "back\\sl", "straße", "STRASSE",
    "écran", "Café", "NAÏVE", "pro", "o\x1fP", "ro e", "P-1", "-", " ", "headphones, thinkpad", "zzz",
    f"a{SEPARATOR}b", "ångström",
]  # fmt: skip


@pytest.fixture
def store() -> OrmCatalogStore:
    store = OrmCatalogStore(using="default")
    store.upsert_categories(CATEGORIES)
    store.upsert_products([product_doc(n) for n in range(1, 13)] + TRICKY)
    return store


def three_columns(q: str) -> set[int]:
    condition = Q(name__icontains=q) | Q(description__icontains=q) | Q(sku__icontains=q)
    return set(CatalogProduct.objects.filter(condition).values_list("id", flat=True))


@pytest.mark.parametrize("q", QUERIES)
def test_the_relation_finds_exactly_what_the_three_icontains_find(store, q):
    if SEPARATOR in q:
        pytest.skip("a q holding the separator is searched on the three columns (the fallback below)")
    assert set(matches("default", q).values_list("id", flat=True)) == three_columns(q)


@pytest.mark.parametrize("q", QUERIES)
@pytest.mark.parametrize("include_inactive", [False, True])
def test_listings_through_the_relation_answer_as_the_three_columns_do(store, q, include_inactive):
    query = ProductQuery(q=q, include_inactive=include_inactive)
    docs, total = store.list_products(query, offset=0, limit=50)
    expected = sorted(
        pk for pk in three_columns(q) if include_inactive or CatalogProduct.objects.get(id=pk).is_active
    )
    assert ([doc["id"] for doc in docs], total) == (expected, len(expected))
    sorted_by_price, priced_total = store.list_products(
        ProductQuery(q=q, include_inactive=include_inactive, ordering="-price"), offset=0, limit=50
    )
    assert (sorted(doc["id"] for doc in sorted_by_price), priced_total) == (expected, len(expected))


def test_the_trigger_keeps_the_relation_equal_to_the_products(store):
    def relation() -> dict[int, tuple[bool, str]]:
        return {row.id: (row.is_active, row.haystack) for row in CatalogSearch.objects.all()}

    def expected() -> dict[int, tuple[bool, str]]:
        return {
            p.id: (p.is_active, SEPARATOR.join((p.sku.upper(), p.name.upper(), p.description.upper())))
            for p in CatalogProduct.objects.exclude(id=20)  # ß: PostgreSQL's upper() keeps it
        } | {20: (True, SEPARATOR.join(("DE-STR", "STRAßE ROUTER", "ÉCRAN PLEIN")))}

    assert relation() == expected()
    store.upsert_products([product_doc(3, name="Legion 7", sku="LEN-L7", is_active=False, version=9)])
    store.stock_adjust(1, 3)  # a stock change leaves the text alone
    store.delete_products([{"id": 4, "version": 99}])
    assert relation() == expected()
    assert relation()[3] == (False, f"LEN-L7{SEPARATOR}LEGION 7{SEPARATOR}GAMING LAPTOP, RTX GRAPHICS")
    assert 4 not in relation()


def test_a_q_only_listing_reads_its_page_and_total_from_the_relation_alone(store):
    with CaptureQueriesContext(connection) as queries:
        docs, total = store.list_products(ProductQuery(q="thinkpad"), offset=1, limit=1)
    assert ([doc["id"] for doc in docs], total) == ([8], 3)
    product_table = '"product_service_catalogproduct"'
    reads = [q["sql"] for q in queries.captured_queries]
    assert len(reads) == 3  # page ids, total, the page's documents by id
    assert all(product_table not in sql for sql in reads[:2])
    assert "catalogsearch" in reads[0]
    assert "catalogsearch" in reads[1]
