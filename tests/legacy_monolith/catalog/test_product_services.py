"""Staff writes on categories and products: the rules the services enforce for every caller."""

from decimal import Decimal

import pytest

from legacy_monolith.catalog.models import Product, StockMovement
from legacy_monolith.catalog.services import (
    category_create,
    product_create,
    product_deactivate,
    product_update,
)
from legacy_monolith.core.errors import ApplicationError
from tests.factories import CategoryFactory, ProductFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def category():
    return CategoryFactory(slug="laptops", name="Laptops")


def create(category, **overrides):
    fields = {"sku": "LAP-001", "name": "Ultrabook 13", "category_id": category.id, "price": "999.90"}
    return product_create(**{**fields, **overrides})


def test_create_stores_the_product_and_records_initial_stock_as_a_movement(category):
    staff = UserFactory(role="staff")
    product = create(
        category,
        description="Thin and light",
        attributes={"brand": "Acme", "ram_gb": 16, "touch": False, "screen": 13.3},
        image_urls=["https://img.example/1.jpg", "http://img.example/2.png"],
        stock=7,
        weight_grams=1200,
        actor=staff,
    )
    product.refresh_from_db()
    assert (product.sku, product.slug, product.price, product.currency) == (
        "LAP-001",
        "ultrabook-13",
        Decimal("999.90"),
        "EUR",
    )
    assert product.attributes == {"brand": "Acme", "ram_gb": 16, "touch": False, "screen": 13.3}
    assert product.stock == 7
    [movement] = StockMovement.objects.filter(product=product)
    assert (movement.delta, movement.balance_after, movement.reason, movement.actor_id) == (
        7,
        7,
        StockMovement.Reason.INITIAL,
        staff.id,
    )


def test_create_without_stock_writes_no_movement(category):
    product = create(category)
    assert product.stock == 0
    assert not StockMovement.objects.filter(product=product).exists()


def test_create_with_a_taken_sku_is_a_conflict(category):
    create(category)
    with pytest.raises(ApplicationError) as caught:
        create(category, name="Another")
    assert (caught.value.code, caught.value.status_code) == ("sku_exists", 409)
    assert Product.objects.count() == 1


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"sku": ""}, "invalid_sku"),
        ({"sku": "has space"}, "invalid_sku"),
        ({"sku": "x" * 65}, "invalid_sku"),
        ({"name": "   "}, "invalid_name"),
        ({"price": "-0.01"}, "invalid_price"),
        ({"price": "1.999"}, "invalid_price"),
        ({"price": "NaN"}, "invalid_price"),
        ({"price": "abc"}, "invalid_price"),
        ({"price": "100000000.00"}, "invalid_price"),
        ({"currency": "eur"}, "invalid_currency"),
        ({"category_id": 10_000_000}, "category_not_found"),
        ({"category_id": "laptops"}, "category_not_found"),
        ({"attributes": ["color", "black"]}, "invalid_attributes"),
        ({"attributes": {"color": {"name": "black"}}}, "invalid_attributes"),
        ({"attributes": {"ports": ["usb", "hdmi"]}}, "invalid_attributes"),
        ({"attributes": {"color": None}}, "invalid_attributes"),
        ({"attributes": {"weight": float("inf")}}, "invalid_attributes"),
        ({"attributes": {"bad key": "x"}}, "invalid_attributes"),
        ({"attributes": {"4k": True}}, "invalid_attributes"),
        ({"attributes": {"note": "x" * 201}}, "invalid_attributes"),
        ({"attributes": {f"k{i}": i for i in range(51)}}, "invalid_attributes"),
        ({"image_urls": "https://img.example/1.jpg"}, "invalid_image_urls"),
        ({"image_urls": ["ftp://img.example/1.jpg"]}, "invalid_image_urls"),
        ({"image_urls": ["javascript:alert(1)"]}, "invalid_image_urls"),
        ({"image_urls": ["https:///no-host"]}, "invalid_image_urls"),
        ({"image_urls": [42]}, "invalid_image_urls"),
        ({"image_urls": ["https://img.example/a b.jpg"]}, "invalid_image_urls"),
        ({"image_urls": [f"https://img.example/{i}.jpg" for i in range(21)]}, "invalid_image_urls"),
        ({"stock": -1}, "invalid_stock"),
        ({"stock": 2**31}, "invalid_stock"),
        ({"weight_grams": -5}, "invalid_weight"),
        ({"slug": "Not A Slug"}, "invalid_slug"),
    ],
)
def test_create_refuses_invalid_fields(category, overrides, code):
    with pytest.raises(ApplicationError) as caught:
        create(category, **overrides)
    assert caught.value.code == code
    assert caught.value.status_code == 400
    assert not Product.objects.exists()


def test_create_accepts_a_free_product_and_falls_back_to_the_sku_for_the_slug(category):
    product = create(category, name="!!!", price="0")
    assert product.price == Decimal("0.00")
    assert product.slug == "lap-001"


def test_update_changes_only_the_given_fields(category):
    product = ProductFactory(stock=4, price=Decimal("10.00"), attributes={"color": "black"})
    other = CategoryFactory(slug="tablets")
    updated = product_update(
        product=product,
        data={"price": Decimal("12.50"), "attributes": {"color": "white"}, "category_id": other.id},
    )
    product.refresh_from_db()
    assert product.price == Decimal("12.50")
    assert product.attributes == {"color": "white"}
    assert product.category_id == other.id
    assert product.stock == 4
    assert updated.updated_at > product.created_at


def test_update_refuses_to_set_stock():
    product = ProductFactory(stock=4)
    with pytest.raises(ApplicationError) as caught:
        product_update(product=product, data={"stock": 100, "name": "Renamed"})
    assert caught.value.code == "stock_not_editable"
    product.refresh_from_db()
    assert product.stock == 4
    assert product.name != "Renamed"


def test_update_to_another_products_sku_is_a_conflict():
    taken, product = ProductFactory(sku="TAKEN-1"), ProductFactory()
    with pytest.raises(ApplicationError) as caught:
        product_update(product=product, data={"sku": taken.sku})
    assert caught.value.code == "sku_exists"


@pytest.mark.parametrize(
    ("data", "code"),
    [
        ({"price": "-1"}, "invalid_price"),
        ({"attributes": {"a": [1]}}, "invalid_attributes"),
        ({"image_urls": ["nope"]}, "invalid_image_urls"),
        ({"category_id": 10_000_000}, "category_not_found"),
        ({"id": 5}, "unknown_fields"),
    ],
)
def test_update_refuses_invalid_fields_and_changes_nothing(data, code):
    product = ProductFactory(price=Decimal("10.00"))
    with pytest.raises(ApplicationError) as caught:
        product_update(product=product, data={"name": "Renamed", **data})
    assert caught.value.code == code
    product.refresh_from_db()
    assert product.name != "Renamed"


def test_update_does_not_overwrite_a_stock_change_made_meanwhile():
    product = ProductFactory(stock=4)
    Product.objects.filter(pk=product.pk).update(stock=1)  # e.g. a checkout since we read it
    product_update(product=product, data={"name": "Renamed"})
    product.refresh_from_db()
    assert (product.stock, product.name) == (1, "Renamed")


def test_deactivate_takes_the_product_off_sale_and_is_repeatable():
    product = ProductFactory()
    product_deactivate(product_id=product.id)
    product_deactivate(product_id=product.id)
    product.refresh_from_db()
    assert product.is_active is False


def test_deactivate_an_unknown_product_is_not_found():
    with pytest.raises(ApplicationError) as caught:
        product_deactivate(product_id=10_000_000)
    assert (caught.value.code, caught.value.status_code) == ("product_not_found", 404)


def test_category_create_slugifies_the_name_and_links_the_parent():
    parent = CategoryFactory(slug="computers")
    category = category_create(name="Gaming Laptops", parent_id=parent.id)
    assert (category.slug, category.parent_id) == ("gaming-laptops", parent.id)


@pytest.mark.parametrize(
    ("kwargs", "code", "status"),
    [
        ({"name": ""}, "invalid_name", 400),
        ({"name": "Bad", "slug": "Bad Slug"}, "invalid_slug", 400),
        ({"name": "Orphan", "parent_id": 10_000_000}, "category_not_found", 400),
        ({"name": "Laptops"}, "category_exists", 409),
    ],
)
def test_category_create_refuses_bad_input(kwargs, code, status):
    CategoryFactory(slug="laptops")
    with pytest.raises(ApplicationError) as caught:
        category_create(**kwargs)
    assert (caught.value.code, caught.value.status_code) == (code, status)
