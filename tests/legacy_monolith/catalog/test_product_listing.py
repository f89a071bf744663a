"""GET /products: filters, search, ordering and pagination, as tables over a small storefront."""

import pytest

from legacy_monolith.catalog.models import Product
from legacy_monolith.catalog.selectors import ProductFilters, attribute_candidates, product_list
from tests.factories import ProductFactory

PRODUCTS_URL = "/api/v1/catalog/products"
ACTIVE = ["LAP-1", "LAP-2", "PC-1", "PH-1"]


def skus(response) -> list[str]:
    assert response.status_code == 200, response.json()
    return [product["sku"] for product in response.json()["results"]]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ACTIVE),
        ("category=laptops", ["LAP-1", "LAP-2"]),
        ("category=computers", ["LAP-1", "LAP-2", "PC-1"]),  # a parent shows its direct children too
        ("category=phones", ["PH-1"]),
        ("category=no-such-category", []),
        ("min_price=750", ["LAP-1", "LAP-2", "PC-1"]),  # bounds are inclusive
        ("max_price=750.00", ["PC-1", "PH-1"]),
        ("min_price=500&max_price=1000", ["LAP-1", "PC-1"]),
        ("min_price=1999.99&max_price=1999.99", ["LAP-2"]),
        ("in_stock=true", ["LAP-1", "PC-1", "PH-1"]),
        ("in_stock=false", ["LAP-2"]),
        ("in_stock=1", ["LAP-1", "PC-1", "PH-1"]),
        ("attr.color=black", ["LAP-2", "PC-1", "PH-1"]),
        ("attr.color=black&attr.color=silver", ACTIVE),  # values of one name are alternatives
        ("attr.color=black&attr.brand=Acme", ["PC-1"]),  # different names must all match
        ("attr.ram_gb=16", ["LAP-1", "PC-1"]),  # matches the number 16 and the string "16"
        ("attr.touch=true", ["LAP-1"]),
        ("attr.touch=false", ["LAP-2"]),
        ("attr.screen=6.1", ["PH-1"]),
        ("attr.brand=acme", []),  # values compare exactly, case included
        ("attr.Brand=Acme", []),  # so do names
        ("attr.weight=1", []),
        ("q=phone", ["PH-1"]),  # name; the inactive "Old Phone" stays hidden
        ("q=SILVER", ["PH-1"]),  # description, case-insensitive
        ("q=lap-", ["LAP-1", "LAP-2"]),  # sku
        ("q=100%25", []),  # % is a literal, not a wildcard
        ("q=", ACTIVE),
        ("category=computers&in_stock=true&attr.brand=Acme&q=o", ["LAP-1", "PC-1"]),
        ("category=computers&min_price=800&attr.color=black", ["LAP-2"]),
    ],
)
def test_listing_filters(api_client, storefront, query, expected):
    assert skus(api_client.get(f"{PRODUCTS_URL}?{query}")) == expected


@pytest.mark.parametrize(
    ("ordering", "expected"),
    [
        ("price", ["PH-1", "PC-1", "LAP-1", "LAP-2"]),
        ("-price", ["LAP-2", "LAP-1", "PC-1", "PH-1"]),
        ("name", ["LAP-2", "PH-1", "PC-1", "LAP-1"]),
        ("-name", ["LAP-1", "PC-1", "PH-1", "LAP-2"]),
        ("stock", ["LAP-2", "PC-1", "LAP-1", "PH-1"]),
        ("-stock", ["PH-1", "LAP-1", "PC-1", "LAP-2"]),
        ("created_at", ACTIVE),
        ("-created_at", list(reversed(ACTIVE))),
        ("id", ACTIVE),
    ],
)
def test_listing_orders_by_a_whitelisted_key(api_client, storefront, ordering, expected):
    assert skus(api_client.get(f"{PRODUCTS_URL}?ordering={ordering}")) == expected


def test_equal_sort_keys_fall_back_to_id_so_pages_are_stable(api_client, db):
    created = [ProductFactory(price="5.00").sku for _ in range(5)]
    first = skus(api_client.get(f"{PRODUCTS_URL}?ordering=-price&page_size=3"))
    second = skus(api_client.get(f"{PRODUCTS_URL}?ordering=-price&page_size=3&page=2"))
    assert first + second == created


def test_staff_may_list_inactive_products_too(client_for, staff_user, storefront):
    response = client_for(staff_user).get(f"{PRODUCTS_URL}?include_inactive=true")
    assert skus(response) == [*ACTIVE, "PH-2"]


def test_include_inactive_is_refused_for_customers(client_for, customer, storefront):
    response = client_for(customer).get(f"{PRODUCTS_URL}?include_inactive=true")
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"


def test_listing_pages_carry_count_and_links(api_client, storefront):
    body = api_client.get(f"{PRODUCTS_URL}?page_size=3").json()
    assert body["count"] == 4
    assert [p["sku"] for p in body["results"]] == ["LAP-1", "LAP-2", "PC-1"]
    assert body["previous"] is None
    assert body["next"].endswith("page=2&page_size=3")
    body = api_client.get(f"{PRODUCTS_URL}?page_size=3&page=2").json()
    assert [p["sku"] for p in body["results"]] == ["PH-1"]
    assert body["next"] is None


def test_default_page_size_is_20(api_client, db):
    ProductFactory.create_batch(21)
    body = api_client.get(PRODUCTS_URL).json()
    assert (body["count"], len(body["results"])) == (21, 20)


def test_a_page_past_the_end_is_page_not_found(api_client, storefront):
    response = api_client.get(f"{PRODUCTS_URL}?page_size=2&page=3")
    assert response.status_code == 404
    assert response.json()["code"] == "page_not_found"
    assert response.json()["extra"] == {"page": 3, "page_size": 2}


def test_the_first_page_of_an_empty_result_is_an_empty_list(api_client, storefront):
    response = api_client.get(f"{PRODUCTS_URL}?category=no-such-category")
    assert response.json() == {"count": 0, "next": None, "previous": None, "results": []}
    assert api_client.get(f"{PRODUCTS_URL}?category=no-such-category&page=2").status_code == 404


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("min_price=abc", "min_price"),
        ("min_price=-1", "min_price"),
        ("max_price=1e999", "max_price"),
        ("max_price=NaN", "max_price"),
        ("min_price=0.001", "min_price"),
        ("min_price=10&max_price=5", "min_price"),
        ("in_stock=maybe", "in_stock"),
        ("in_stock=", "in_stock"),
        ("ordering=popularity", "ordering"),
        ("ordering=category__name", "ordering"),
        ("ordering=-id", "ordering"),
        ("include_inactive=perhaps", "include_inactive"),
        ("page_size=101", "page_size"),
        ("page_size=0", "page_size"),
        ("page_size=-1", "page_size"),
        ("page_size=ten", "page_size"),
        ("page=0", "page"),
        ("page=abc", "page"),
        ("page=last", "page"),
        ("page=", "page"),
        ("attr.=black", "attr."),
        ("attr.0=black", "attr.0"),
        ("attr.bad%20name=black", "attr.bad name"),
        ("attr.color=" + "x" * 201, "attr.color"),
        ("attr.color=%00", "attr.color"),
        ("q=" + "x" * 201, "q"),
        ("q=%00", "q"),
        ("category=%00", "category"),
    ],
)
def test_listing_refuses_bad_parameters_with_a_400(api_client, storefront, query, field):
    response = api_client.get(f"{PRODUCTS_URL}?{query}")
    assert response.status_code == 400, response.json()
    body = response.json()
    assert body["code"] == "validation_error"
    assert field in body["extra"]["fields"]


def test_unknown_parameters_are_ignored(api_client, storefront):
    assert skus(api_client.get(f"{PRODUCTS_URL}?colour=black&sort=price")) == ACTIVE


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("black", ["black"]),
        ("16", ["16", 16]),
        ("-3", ["-3", -3]),
        ("2.5", ["2.5", 2.5]),
        ("TRUE", ["TRUE", True]),
        ("false", ["false", False]),
        ("1_000", ["1_000"]),
        ("1e3", ["1e3"]),
        ("", [""]),
    ],
)
def test_attribute_values_stand_for_their_string_and_their_typed_form(raw, expected):
    assert attribute_candidates(raw) == expected


@pytest.mark.parametrize("name", ["contains", "exact", "isnull", "has_key", "in"])
def test_attribute_names_that_look_like_lookups_are_plain_keys(db, name):
    ProductFactory(sku="ODD-1", attributes={name: "x"})
    ProductFactory(sku="ODD-2", attributes={"color": "x"})
    listed = product_list(filters=ProductFilters(attributes={name: ["x"]}))
    assert [p.sku for p in listed] == ["ODD-1"]


def test_listing_loads_categories_in_the_same_query(db, django_assert_num_queries):
    ProductFactory.create_batch(3)
    with django_assert_num_queries(1):
        products = list(product_list(filters=ProductFilters()))
        assert all(p.category.slug for p in products)
    assert len(products) == Product.objects.count()
