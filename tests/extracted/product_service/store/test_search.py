"""/api/v2 search from the store: keyset cursors that neither repeat nor skip a product while the
catalogue changes under a client walking the pages, facet counts, and full-text relevance."""

from __future__ import annotations

import pytest

from extracted.product_service.store.common import encode_cursor
from extracted.product_service.store.port import InvalidQuery, ProductQuery

from .adapters import DATABASES, MONGO_VIA_MONGOMOCK, ORM_SQLITE
from .dataset import ACTIVE_IDS, product_doc
from .test_listing import ORDERED

pytestmark = pytest.mark.django_db(databases=DATABASES)


def walk(store, query: ProductQuery, *, limit: int, between_pages=None) -> list[int]:
    """Every id the pages give, in order, following next_cursor to the end."""
    seen, cursor, pages = [], None, 0
    while True:
        page = store.search(query, cursor=cursor, limit=limit)
        seen += [item["id"] for item in page.items]
        pages += 1
        if page.next_cursor is None:
            return seen
        assert len(page.items) == limit
        if between_pages:
            between_pages(pages)
        cursor = page.next_cursor


@pytest.mark.parametrize(("ordering", "expected"), ORDERED, ids=[case[0] for case in ORDERED])
def test_walking_the_cursor_pages_gives_the_listing_order_once_each(seeded_store, ordering, expected):
    assert walk(seeded_store, ProductQuery(ordering=ordering), limit=3) == expected


def test_the_last_page_has_no_next_cursor(seeded_store):
    page = seeded_store.search(ProductQuery(category="gaming-laptops"), limit=3)

    assert [item["id"] for item in page.items] == [3, 4, 10]
    assert page.next_cursor is None


def test_products_added_behind_the_cursor_are_not_seen_and_ahead_of_it_are_seen_once(seeded_store):
    def change_catalogue(pages_read: int) -> None:
        if pages_read == 1:
            seeded_store.upsert_products(
                [
                    product_doc(20, price="5000.00"),  # sorts before the first page: behind the cursor
                    product_doc(21, price="1.00"),  # sorts last: ahead of it
                    product_doc(8, price="1299.00", name="ThinkPad T14 Gen 5", version=2),  # moves nowhere
                ]
            )

    ids = walk(seeded_store, ProductQuery(ordering="-price"), limit=4, between_pages=change_catalogue)

    assert ids == [1, 3, 2, 8, 10, 4, 6, 5, 11, 9, 12, 21]


def test_a_cursor_of_another_query_is_refused(seeded_store):
    page = seeded_store.search(ProductQuery(ordering="price"), limit=2)

    with pytest.raises(InvalidQuery) as refused:
        seeded_store.search(ProductQuery(ordering="-price"), cursor=page.next_cursor, limit=2)
    assert refused.value.code == "invalid_query"


@pytest.mark.parametrize("cursor", ["not-base64!", "e30", "eyJmIjoiMCIsImsiOm51bGwsImkiOiJ4In0"])
def test_a_forged_cursor_is_refused(seeded_store, cursor):
    with pytest.raises(InvalidQuery):
        seeded_store.search(ProductQuery(), cursor=cursor, limit=2)


@pytest.mark.parametrize(
    ("ordering", "key"),
    [("price", "abc"), ("price", 12.5), ("created_at", "yesterday"), ("stock", "3"), ("name", 3), ("id", 3)],
)
def test_a_cursor_with_the_right_fingerprint_but_a_malformed_key_is_refused(seeded_store, ordering, key):
    query = ProductQuery(ordering=ordering)

    with pytest.raises(InvalidQuery):
        seeded_store.search(query, cursor=encode_cursor(query, key, 3), limit=2)


def test_facets_count_the_whole_result_set_not_the_page(seeded_store):
    page = seeded_store.search(
        ProductQuery(),
        limit=2,
        facets=["category", "price", "in_stock", "attr.color", "attr.ram_gb", "attr.wireless"],
    )

    assert len(page.items) == 2
    assert page.facets == {
        "category": [
            {"id": 3, "slug": "audio", "name": "Audio", "count": 5},
            {"id": 1, "slug": "laptops", "name": "Laptops", "count": 3},
            {"id": 2, "slug": "gaming-laptops", "name": "Gaming laptops", "count": 2},
            {"id": 5, "slug": "budget-gaming", "name": "Budget gaming", "count": 1},
        ],
        "price": [
            {"min": "0.00", "max": "50.00", "count": 2},
            {"min": "50.00", "max": "100.00", "count": 0},
            {"min": "100.00", "max": "250.00", "count": 0},
            {"min": "250.00", "max": "500.00", "count": 2},
            {"min": "500.00", "max": "1000.00", "count": 3},
            {"min": "1000.00", "max": "2500.00", "count": 4},
            {"min": "2500.00", "max": None, "count": 0},
        ],
        "in_stock": [{"value": True, "count": 8}, {"value": False, "count": 3}],
        "attr.color": [
            {"value": "black", "count": 3},
            {"value": "silver", "count": 2},
            {"value": "white", "count": 1},
        ],
        "attr.ram_gb": [
            {"value": 16, "count": 3},
            {"value": 8, "count": 1},
            {"value": 32, "count": 1},
            {"value": "16", "count": 1},
        ],
        "attr.wireless": [{"value": True, "count": 2}, {"value": False, "count": 1}],
    }


def test_facets_follow_the_filters(seeded_store):
    page = seeded_store.search(
        ProductQuery(category="audio", include_inactive=True), facets=["in_stock", "attr.brand"]
    )

    assert page.facets["in_stock"] == [{"value": True, "count": 4}, {"value": False, "count": 2}]
    # Five brands; product 12 has no brand and is in no value's count.
    assert [row["count"] for row in page.facets["attr.brand"]] == [1] * 5


def test_no_facets_are_computed_unless_asked(seeded_store):
    assert seeded_store.search(ProductQuery(), limit=1).facets == {}


@pytest.mark.parametrize("facet", ["brand", "attr.", "attr.$where", "price_range"])
def test_an_unknown_facet_is_refused(seeded_store, facet):
    with pytest.raises(InvalidQuery):
        seeded_store.search(ProductQuery(), facets=[facet])


def test_relevance_ranks_whole_word_matches_and_pages_by_cursor(seeded_store, adapter, skip_on_mongomock):
    skip_on_mongomock("the $text query operator and text scores")
    if adapter == ORM_SQLITE:
        assert not seeded_store.supports_relevance
        with pytest.raises(InvalidQuery):
            seeded_store.search(ProductQuery(q="laptop", ordering="relevance"))
        return
    query = ProductQuery(q="laptop", ordering="relevance")

    ids = walk(seeded_store, query, limit=1)

    # Whole-word matches of "laptop" (not "laptops"), substring semantics still apply as the filter.
    assert sorted(ids) == [2, 3, 4, 8, 10]
    first = seeded_store.search(query, limit=5, facets=["category"])
    assert [item["id"] for item in first.items] == ids
    assert [(row["id"], row["count"]) for row in first.facets["category"]] == [(1, 2), (2, 2), (5, 1)]


def test_relevance_needs_a_query(seeded_store, adapter):
    if adapter == MONGO_VIA_MONGOMOCK or seeded_store.supports_relevance:
        with pytest.raises(InvalidQuery):
            seeded_store.search(ProductQuery(ordering="relevance"))


def test_active_ids_are_what_an_unfiltered_search_walks(seeded_store):
    assert walk(seeded_store, ProductQuery(), limit=5) == ACTIVE_IDS
