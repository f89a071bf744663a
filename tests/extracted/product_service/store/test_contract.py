"""The product contract itself: strict validation that names the offending field, and the canonical
form verify compares (no storage involved)."""

from __future__ import annotations

from hashlib import blake2b

import orjson
import pytest

from contracts.product import (
    EMPTY_RANGE_DIGEST,
    ContractError,
    canonical_bytes,
    doc_digest,
    range_digest,
    validate_category,
    validate_product,
    validate_tombstone,
)

from .dataset import CATEGORIES, product_doc, products


@pytest.mark.parametrize("doc", products(), ids=lambda doc: f"product-{doc['id']}")
def test_the_reference_documents_are_valid(doc):
    assert validate_product(doc) is doc


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"id": 0}, "id"),
        ({"id": "1"}, "id"),
        ({"id": True}, "id"),
        ({"sku": ""}, "sku"),
        ({"sku": "S" * 65}, "sku"),
        ({"name": "N" * 201}, "name"),
        ({"slug": "s" * 221}, "slug"),
        ({"description": None}, "description"),
        (
            {"category": {"id": 1, "slug": "laptops", "name": "Laptops", "parent_id": None}},
            "category.parent_id",
        ),
        ({"category": {"id": 1, "slug": "l" * 141, "name": "Laptops"}}, "category.slug"),
        ({"category": {"id": 1, "slug": "laptops", "name": "L" * 121}}, "category.name"),
        ({"price": "12.3"}, "price"),
        ({"price": "012.30"}, "price"),
        ({"price": "-1.00"}, "price"),
        ({"price": "1e3"}, "price"),
        ({"price": "100000000.00"}, "price"),
        ({"price": 12.3}, "price"),
        ({"currency": "eur"}, "currency"),
        ({"attributes": []}, "attributes"),
        ({"attributes": {"9lives": 1}}, "attributes.9lives"),
        ({"attributes": {"tags": ["a"]}}, "attributes.tags"),
        ({"attributes": {"ratio": float("nan")}}, "attributes.ratio"),
        ({"attributes": {"note": None}}, "attributes.note"),
        ({"image_urls": "https://img.example/1.jpg"}, "image_urls"),
        ({"image_urls": [1]}, "image_urls[0]"),
        ({"stock": -1}, "stock"),
        ({"stock": 2**31}, "stock"),
        ({"weight_grams": 1.5}, "weight_grams"),
        ({"is_active": 1}, "is_active"),
        ({"created_at": "2026-01-01T10:00:00+00:00"}, "created_at"),
        ({"updated_at": "2026-01-01T10:00:00.12Z"}, "updated_at"),
        ({"version": -1}, "version"),
        ({"in_stock": True}, "in_stock"),
    ],
)
def test_an_invalid_product_is_refused_naming_the_field(change, field):
    with pytest.raises(ContractError) as refused:
        validate_product(product_doc(1, **change))

    assert refused.value.code == "invalid_document"
    assert refused.value.extra == {"field": field}
    assert refused.value.message.startswith(f"{field}: ")


def test_a_product_missing_a_field_is_refused():
    doc = product_doc(1)
    del doc["weight_grams"]

    with pytest.raises(ContractError) as refused:
        validate_product(doc)
    assert refused.value.extra == {"field": "weight_grams"}


@pytest.mark.parametrize("doc", CATEGORIES, ids=lambda doc: doc["slug"])
def test_the_reference_categories_are_valid(doc):
    assert validate_category(doc) is doc


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"parent_id": 1}, "parent_id"),
        ({"parent_id": "2"}, "parent_id"),
        ({"slug": ""}, "slug"),
        ({"x": 1}, "x"),
    ],
)
def test_an_invalid_category_is_refused_naming_the_field(change, field):
    with pytest.raises(ContractError) as refused:
        validate_category({**CATEGORIES[0], **change})
    assert refused.value.extra == {"field": field}


def test_a_tombstone_is_an_id_and_a_version():
    assert validate_tombstone({"id": 1, "version": 4}) == {"id": 1, "version": 4}
    with pytest.raises(ContractError):
        validate_tombstone({"id": 1, "version": 4, "deleted_at": "2026-01-01T00:00:00Z"})


def test_canonical_bytes_are_sorted_compact_json_without_the_version():
    doc = {"version": 9, "name": "Å", "id": 1, "attributes": {"b": 1, "a": 2.5}}

    assert canonical_bytes(doc) == b'{"attributes":{"a":2.5,"b":1},"id":1,"name":"\xc3\x85"}'


def test_the_digest_ignores_key_order_and_version_but_not_content():
    doc = product_doc(1)
    shuffled = dict(reversed(list({**doc, "version": 99}.items())))

    assert doc_digest(shuffled) == doc_digest(doc)
    assert doc_digest(product_doc(1, stock=4)) != doc_digest(doc)
    assert doc_digest(doc) == blake2b(orjson.dumps(
        {k: v for k, v in doc.items() if k != "version"}, option=orjson.OPT_SORT_KEYS
    ), digest_size=16).hexdigest()  # fmt: skip


def test_a_range_digest_chains_id_and_digest_lines_in_order():
    pairs = [(1, "aa"), (2, "bb")]

    assert range_digest(pairs) == blake2b(b"1:aa\n2:bb\n", digest_size=16).hexdigest()
    assert range_digest([]) == EMPTY_RANGE_DIGEST == blake2b(b"", digest_size=16).hexdigest()
