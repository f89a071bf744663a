"""/api/v1 listings from the store: every filter and ordering of the monolith's product_list, on the
reference catalogue, compared with the ids the monolith's selector gives for the same rows."""

from __future__ import annotations

from decimal import Decimal

import pytest

from extracted.product_service.store.port import InvalidQuery, ProductNotFound, ProductQuery

from .adapters import DATABASES
from .dataset import ACTIVE_IDS, CATEGORIES, product_doc

pytestmark = pytest.mark.django_db(databases=DATABASES)

ALL_IDS = list(range(1, 13))

ORDERED = [
    ("id", ACTIVE_IDS),
    ("price", [12, 9, 11, 5, 6, 4, 10, 2, 8, 3, 1]),
    ("-price", [1, 3, 2, 8, 10, 4, 6, 5, 11, 9, 12]),  # 2 and 8 cost the same: id breaks the tie
    ("name", [6, 3, 9, 4, 8, 1, 5, 2, 10, 12, 11]),  # code point order: upper case, lower case, Å
    ("-name", [11, 12, 10, 2, 5, 1, 8, 4, 9, 3, 6]),
    ("created_at", [8, 2, 3, 4, 1, 11, 6, 5, 9, 10, 12]),  # 8 is .0 s before 2's .5 s
    ("-created_at", [12, 10, 9, 5, 6, 1, 11, 3, 4, 2, 8]),  # equal timestamps keep ascending ids
    ("stock", [2, 6, 9, 8, 3, 10, 1, 4, 11, 5, 12]),
    ("-stock", [12, 5, 11, 4, 1, 10, 3, 8, 2, 6, 9]),
]

FILTERED = [
    ("the category includes its direct children", ProductQuery(category="laptops"), [1, 2, 3, 8, 10]),
    ("a child category includes its own children", ProductQuery(category="gaming-laptops"), [3, 4, 10]),
    ("a leaf category", ProductQuery(category="budget-gaming"), [4]),
    ("an unknown category matches nothing", ProductQuery(category="no-such-slug"), []),
    ("min_price is inclusive", ProductQuery(min_price=Decimal("250")), [1, 2, 3, 4, 5, 6, 8, 10, 11]),
    ("max_price is inclusive", ProductQuery(max_price=Decimal("349.00")), [5, 9, 11, 12]),
    ("a price range", ProductQuery(min_price=Decimal("899.99"), max_price=Decimal("1299")), [2, 4, 8, 10]),
    ("in stock means stock above zero", ProductQuery(in_stock=True), [1, 3, 4, 5, 8, 10, 11, 12]),
    ("out of stock means stock zero", ProductQuery(in_stock=False), [2, 6, 9]),
    (
        "an attribute number matches the number and its string",
        ProductQuery(attributes={"ram_gb": ["16"]}),
        [1, 2, 4, 10],
    ),
    ("an attribute number", ProductQuery(attributes={"ram_gb": ["32"]}), [3]),
    ("an attribute boolean", ProductQuery(attributes={"touch": ["true"]}), [1]),
    ("true matches the boolean and the string", ProductQuery(attributes={"wireless": ["true"]}), [5, 6]),
    ("false matches the boolean false", ProductQuery(attributes={"wireless": ["false"]}), [11]),
    ("a decimal matches the float and its string", ProductQuery(attributes={"screen_in": ["15.6"]}), [3, 4]),
    (
        "repeated values of one attribute are alternatives",
        ProductQuery(attributes={"color": ["black", "white"]}),
        [1, 5, 8, 9],
    ),
    (
        "two attributes must both match",
        ProductQuery(attributes={"color": ["black"], "brand": ["Lenovo"]}),
        [1, 8],
    ),
    ("attribute values are case-sensitive", ProductQuery(attributes={"brand": ["lenovo"]}), []),
    ("a missing attribute matches nothing", ProductQuery(attributes={"weight": ["1"]}), []),
    ("q searches name and description", ProductQuery(q="thinkpad"), [1, 8, 9]),
    ("q searches the sku", ProductQuery(q="LEN-"), [1, 3, 8]),
    ("q ignores case", ProductQuery(q="zenBOOK"), [10]),
    ("q takes an underscore literally", ProductQuery(q="_"), [12]),
    ("q takes a percent sign literally", ProductQuery(q="50%"), [12]),
    ("q takes regex characters literally", ProductQuery(q="5."), []),
    ("q leaves inactive products out", ProductQuery(q="headphones"), [5, 6, 9]),
    ("include_inactive lists inactive products", ProductQuery(include_inactive=True), ALL_IDS),
    (
        "include_inactive with a category",
        ProductQuery(category="audio", include_inactive=True),
        [5, 6, 7, 9, 11, 12],
    ),
    (
        "include_inactive with an attribute",
        ProductQuery(attributes={"wireless": ["true"]}, include_inactive=True),
        [5, 6, 7],
    ),
    (
        "filters combine with an ordering",
        ProductQuery(category="audio", in_stock=True, ordering="-price"),
        [5, 11, 12],
    ),
]


def listed_ids(store, query: ProductQuery) -> list[int]:
    items, total = store.list_products(query, offset=0, limit=100)
    assert total == len(items)
    return [item["id"] for item in items]


@pytest.mark.parametrize(("ordering", "expected"), ORDERED, ids=[case[0] for case in ORDERED])
def test_every_ordering_sorts_like_the_monolith_with_an_id_tiebreak(seeded_store, ordering, expected):
    assert listed_ids(seeded_store, ProductQuery(ordering=ordering)) == expected


@pytest.mark.parametrize(
    ("query", "expected"), [case[1:] for case in FILTERED], ids=[case[0] for case in FILTERED]
)
def test_every_filter_selects_what_the_monolith_selects(seeded_store, query, expected):
    assert listed_ids(seeded_store, query) == expected


def test_a_page_is_a_slice_of_the_ordering_with_the_total_of_all_matches(seeded_store):
    items, total = seeded_store.list_products(ProductQuery(ordering="price"), offset=2, limit=3)

    assert [item["id"] for item in items] == [11, 5, 6]
    assert total == len(ACTIVE_IDS)


def test_a_page_past_the_end_is_empty_with_the_total(seeded_store):
    assert seeded_store.list_products(ProductQuery(), offset=50, limit=10) == ([], len(ACTIVE_IDS))


def test_listed_documents_are_the_documents_imported(seeded_store):
    items, _ = seeded_store.list_products(ProductQuery(include_inactive=True), offset=0, limit=100)

    assert items == [product_doc(product_id) for product_id in ALL_IDS]


def test_an_inactive_product_is_found_only_with_include_inactive(seeded_store):
    assert seeded_store.get_product(7, include_inactive=True) == product_doc(7)
    with pytest.raises(ProductNotFound) as refused:
        seeded_store.get_product(7)
    assert refused.value.code == "product_not_found"


def test_an_unknown_product_is_not_found(seeded_store):
    with pytest.raises(ProductNotFound):
        seeded_store.get_product(999, include_inactive=True)


def test_categories_are_listed_by_name_then_id(seeded_store):
    assert [category["id"] for category in seeded_store.list_categories()] == [3, 5, 2, 1]
    assert seeded_store.list_categories()[0] == next(c for c in CATEGORIES if c["id"] == 3)


def test_an_attribute_without_values_filters_nothing_as_in_the_monolith(seeded_store):
    assert listed_ids(seeded_store, ProductQuery(attributes={"color": []})) == ACTIVE_IDS


def test_an_empty_page_still_counts_the_matches(seeded_store):
    assert seeded_store.list_products(ProductQuery(), offset=0, limit=0) == ([], len(ACTIVE_IDS))


@pytest.mark.parametrize(("offset", "limit"), [(-1, 10), (0, -1)])
def test_a_negative_offset_or_limit_is_refused(seeded_store, offset, limit):
    with pytest.raises(InvalidQuery):
        seeded_store.list_products(ProductQuery(), offset=offset, limit=limit)


def test_an_unknown_ordering_is_refused(seeded_store):
    with pytest.raises(InvalidQuery) as refused:
        seeded_store.list_products(ProductQuery(ordering="weight_grams"), offset=0, limit=10)
    assert refused.value.code == "invalid_query"


@pytest.mark.parametrize("name", ["brand.name", "$where", "1st", "two words", "x" * 65])
def test_an_attribute_name_that_could_read_as_a_path_or_operator_is_refused(seeded_store, name):
    with pytest.raises(InvalidQuery):
        seeded_store.list_products(ProductQuery(attributes={name: ["x"]}), offset=0, limit=10)


# Filtered listings take the page and the total in one pass over the matches; unfiltered ones count
# apart. Both are held to the same slices of the same orderings.
PAGED = [
    ("unfiltered", ProductQuery(), ACTIVE_IDS),
    ("a category by price", ProductQuery(category="laptops", ordering="price"), [10, 2, 8, 3, 1]),
    (
        "a category by price descending",
        ProductQuery(category="laptops", ordering="-price"),
        [1, 3, 2, 8, 10],
    ),
    ("a search by name", ProductQuery(q="laptop", ordering="name"), [3, 4, 8, 2, 10]),
    (
        "in stock by stock descending",
        ProductQuery(in_stock=True, ordering="-stock"),
        [12, 5, 11, 4, 1, 10, 3, 8],
    ),
    (
        "an attribute by creation",
        ProductQuery(attributes={"ram_gb": ["16"]}, ordering="created_at"),
        [2, 4, 1, 10],
    ),
    (
        "a price range with inactive products",
        ProductQuery(max_price=Decimal("200"), include_inactive=True),
        [7, 9, 12],
    ),
]


@pytest.mark.parametrize(("query", "expected"), [case[1:] for case in PAGED], ids=[case[0] for case in PAGED])
def test_every_page_of_a_listing_is_its_slice_of_the_ordering_with_the_total(seeded_store, query, expected):
    pages = [
        seeded_store.list_products(query, offset=offset, limit=3) for offset in range(0, len(expected), 3)
    ]

    assert [item["id"] for items, _ in pages for item in items] == expected
    assert {total for _, total in pages} == {len(expected)}


@pytest.mark.parametrize(("query", "expected"), [case[1:] for case in PAGED], ids=[case[0] for case in PAGED])
def test_a_page_past_the_end_of_any_listing_is_empty_with_the_total(seeded_store, query, expected):
    assert seeded_store.list_products(query, offset=len(expected), limit=5) == ([], len(expected))
    assert seeded_store.list_products(query, offset=0, limit=0) == ([], len(expected))


def test_a_page_of_an_unknown_category_is_empty_with_no_total(seeded_store):
    assert seeded_store.list_products(ProductQuery(category="no-such-slug"), offset=0, limit=5) == ([], 0)


def test_a_paged_document_is_the_document_imported(seeded_store):
    items, total = seeded_store.list_products(ProductQuery(category="audio"), offset=1, limit=2)

    assert items == [product_doc(6), product_doc(9)]
    assert total == 5
