"""The catalog translators: monolith rows <-> product/category documents, both ways, losslessly."""

from datetime import UTC, datetime
from decimal import Decimal

import orjson
import pytest
from rest_framework.renderers import JSONRenderer

from acl_adapters.catalog.translate import (
    CATEGORY_ROW_FIELDS,
    PRODUCT_ROW_FIELDS,
    category_row_to_document,
    category_to_document,
    document_to_category,
    document_to_product,
    product_row_to_document,
    product_to_document,
)
from contracts import product as contract
from legacy_monolith.catalog.apis.serializers import CategoryOutput, ProductOutput
from legacy_monolith.catalog.models import Category, Product
from tests.factories import CategoryFactory, ProductFactory

DOCUMENT_KEYS = {
    "id", "sku", "name", "slug", "description", "category", "price", "currency", "attributes",
    "image_urls", "stock", "weight_grams", "is_active", "created_at", "updated_at", "version",
}  # fmt: skip


def unsaved_product(**overrides) -> Product:
    fields = {
        "id": 7,
        "sku": "SKU-7",
        "name": "Laptop",
        "slug": "laptop",
        "description": "A laptop",
        "category": Category(id=3, slug="laptops", name="Laptops"),
        "price": Decimal("1299.90"),
        "currency": "EUR",
        "attributes": {"ram_gb": 16, "color": "black"},
        "image_urls": ["https://img.example/1.jpg"],
        "stock": 4,
        "weight_grams": 1800,
        "is_active": True,
        "created_at": datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC),
        "updated_at": datetime(2026, 1, 2, 3, 4, 6, tzinfo=UTC),
    }
    fields.update(overrides)
    return Product(**fields)


def rendered(product: Product) -> bytes:
    """The bytes the monolith's views send for this product."""
    return JSONRenderer().render(ProductOutput(product).data)


CASES = {
    "plain": {},
    "unicode": {
        "name": "Ordinateur portable très léger — 日本語 ✓",
        "description": "Zeilen\numbruch, emoji 🚀, NUL-free",
        "attributes": {"farbe": "grün", "groesse": '15" — 日本'},
        "category": Category(id=3, slug="portables", name="Portables élégants"),
    },
    "empty attributes and images": {"attributes": {}, "image_urls": [], "description": ""},
    "biggest price": {"price": Decimal("99999999.99")},
    "zero price, no stock, inactive": {"price": Decimal("0.00"), "stock": 0, "is_active": False},
    "one decimal price": {"price": Decimal("5.5")},
    "microsecond timestamps": {
        "created_at": datetime(2026, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        "updated_at": datetime(2026, 12, 31, 23, 59, 59, 1, tzinfo=UTC),
    },
    "typed attribute values": {"attributes": {"ram_gb": 16, "weight_kg": 1.25, "touch": True, "note": ""}},
}


@pytest.mark.parametrize("overrides", CASES.values(), ids=CASES.keys())
def test_a_product_survives_the_round_trip_through_its_document(overrides):
    original = unsaved_product(**overrides)
    document = product_to_document(original, version=12)

    assert set(document) == DOCUMENT_KEYS
    assert product_to_document(document_to_product(document)) == document
    assert orjson.loads(orjson.dumps(document)) == document  # plain JSON types only


@pytest.mark.parametrize("overrides", CASES.values(), ids=CASES.keys())
def test_the_monolith_renders_the_same_json_from_the_original_and_the_round_tripped_product(overrides):
    original = unsaved_product(**overrides)

    round_tripped = document_to_product(product_to_document(original))

    assert rendered(round_tripped) == rendered(original)


@pytest.mark.parametrize("overrides", CASES.values(), ids=CASES.keys())
def test_the_document_carries_exactly_what_the_monolith_renders_less_in_stock(overrides):
    original = unsaved_product(**overrides)
    api = orjson.loads(rendered(original))

    document = product_to_document(original, version=3)

    assert api.pop("in_stock") == (original.stock > 0)
    assert {key: value for key, value in document.items() if key != "version"} == api


@pytest.mark.parametrize("overrides", CASES.values(), ids=CASES.keys())
def test_every_translated_document_passes_the_product_services_contract(overrides):
    product = unsaved_product(**overrides)

    assert contract.validate_product(product_to_document(product, version=9)) is not None
    assert contract.validate_category(category_to_document(product.category, version=2)) is not None


def test_prices_are_strings_with_two_decimals():
    assert product_to_document(unsaved_product(price=Decimal("5.5")))["price"] == "5.50"
    assert product_to_document(unsaved_product(price=Decimal("99999999.99")))["price"] == "99999999.99"


def test_timestamps_are_utc_with_a_z_and_keep_their_microseconds():
    document = product_to_document(unsaved_product())

    assert document["created_at"] == "2026-01-02T03:04:05.123456Z"
    assert document["updated_at"] == "2026-01-02T03:04:06Z"


def test_the_version_is_the_rows_sync_version_unless_given():
    product = unsaved_product()
    product.sync_version = 41

    assert product_to_document(product)["version"] == 41
    assert product_to_document(product, version=42)["version"] == 42
    assert document_to_product(product_to_document(product)).sync_version == 41


def test_the_reverse_translation_builds_unsaved_instances():
    product = document_to_product(product_to_document(unsaved_product()))

    assert product._state.adding
    assert product.category._state.adding
    assert product.category.slug == "laptops"


def test_a_category_survives_the_round_trip_and_renders_the_same():
    original = Category(id=9, name="Écrans 4K", slug="ecrans-4k", parent_id=2)

    document = category_to_document(original, version=5)

    assert document == {"id": 9, "name": "Écrans 4K", "slug": "ecrans-4k", "parent_id": 2, "version": 5}
    round_tripped = document_to_category(document)
    assert category_to_document(round_tripped) == document
    assert CategoryOutput(round_tripped).data == CategoryOutput(original).data


@pytest.mark.django_db
def test_a_values_row_and_the_model_instance_give_the_same_document():
    parent = CategoryFactory(slug="computers")
    product = ProductFactory(
        category=CategoryFactory(slug="laptops", parent=parent),
        name="Überbook ✓",
        price=Decimal("12345678.90"),
        attributes={},
    )
    product.refresh_from_db()  # timestamps and the price as the database keeps them

    row = Product.objects.values(*PRODUCT_ROW_FIELDS).get(pk=product.pk)
    category_row = Category.objects.values(*CATEGORY_ROW_FIELDS).get(slug="laptops")

    assert product_row_to_document(row) == product_to_document(product)
    assert category_row_to_document(category_row) == category_to_document(product.category)
    assert orjson.loads(rendered(product)) == orjson.loads(
        rendered(document_to_product(product_to_document(product)))
    )
