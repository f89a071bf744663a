"""/api/v1/catalog on the service: the monolith's contract (the side-by-side comparison with the monolith
is tests/e2e/test_catalog_contract.py); here the service's own behaviour around it."""

from __future__ import annotations

import pytest

from .documents import product_doc

pytestmark = pytest.mark.django_db

PRODUCTS = "/api/v1/catalog/products"


def test_the_first_page_links_to_the_next_one_only(api_client, seeded):
    answer = api_client.get(PRODUCTS)
    body = answer.json()
    assert answer.status_code == 200
    assert answer["Content-Type"] == "application/json"
    assert body["count"] == 28  # 30 minus the two inactive products
    assert [p["id"] for p in body["results"]] == [i for i in range(1, 22) if i != 11]
    assert body["next"] == "http://testserver/api/v1/catalog/products?page=2"
    assert body["previous"] is None


def test_the_second_page_links_back_without_a_page_parameter(api_client, seeded):
    body = api_client.get(PRODUCTS, {"page": 2, "ordering": "-price"}).json()
    assert body["next"] is None
    assert body["previous"] == "http://testserver/api/v1/catalog/products?ordering=-price"


def test_a_page_past_the_end_is_page_not_found(api_client, seeded):
    answer = api_client.get(PRODUCTS, {"page": 3})
    assert answer.status_code == 404
    assert answer.json() == {
        "code": "page_not_found",
        "message": "Page 3 is past the last page",
        "extra": {"page": 3, "page_size": 20},
    }


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"page": "0"}, "page"),
        ({"page_size": "101"}, "page_size"),
        ({"page": "x"}, "page"),
        ({"ordering": "secret"}, "ordering"),
        ({"min_price": "9", "max_price": "1"}, "min_price"),
        ({"in_stock": "maybe"}, "in_stock"),
        ({"attr.1x": "a"}, "attr.1x"),
    ],
)
def test_bad_query_parameters_are_a_validation_error_naming_the_field(api_client, seeded, params, field):
    answer = api_client.get(PRODUCTS, params)
    assert answer.status_code == 400
    body = answer.json()
    assert body["code"] == "validation_error"
    assert field in body["extra"]["fields"]


def test_a_category_lists_its_children_products_too(api_client, seeded):
    body = api_client.get(PRODUCTS, {"category": "laptops", "page_size": 100}).json()
    assert {p["category"]["slug"] for p in body["results"]} == {"laptops", "gaming-laptops"}


def test_include_inactive_is_refused_whatever_identity_headers_arrive(api_client, seeded):
    answer = api_client.get(PRODUCTS, {"include_inactive": "true"}, HTTP_X_STRANGLER_USER_ID="1")
    assert answer.status_code == 403
    assert answer.json() == {
        "code": "permission_denied",
        "message": "include_inactive is for staff only",
        "extra": {},
    }
    assert api_client.get(PRODUCTS, {"include_inactive": "false"}).status_code == 200


def test_a_product_renders_the_monolith_fields_in_order(api_client, seeded):
    answer = api_client.get(f"{PRODUCTS}/3")
    assert answer.status_code == 200
    assert list(answer.json()) == [
        "id",
        "sku",
        "name",
        "slug",
        "description",
        "category",
        "price",
        "currency",
        "attributes",
        "image_urls",
        "stock",
        "in_stock",
        "weight_grams",
        "is_active",
        "created_at",
        "updated_at",
    ]
    assert answer.json()["in_stock"] is True


@pytest.mark.parametrize("product_id", [11, 999, 2**63, 10**30])
def test_inactive_unknown_and_out_of_range_products_are_product_not_found(api_client, seeded, product_id):
    answer = api_client.get(f"{PRODUCTS}/{product_id}")
    assert answer.status_code == 404
    assert answer.json() == {
        "code": "product_not_found",
        "message": f"Product {product_id} does not exist",
        "extra": {"id": product_id},
    }


def test_a_path_that_is_no_route_is_not_found(api_client, seeded):
    answer = api_client.get(f"{PRODUCTS}/abc")
    assert answer.status_code == 404
    assert answer.json()["code"] == "not_found"


def test_head_answers_the_headers_of_get_without_a_body(api_client, seeded):
    get = api_client.get(PRODUCTS)
    head = api_client.head(PRODUCTS)
    assert head.status_code == 200
    assert head.content == b""
    assert head["Content-Length"] == str(len(get.content))


def test_writes_need_staff_first_as_on_the_monolith(api_client, seeded):
    """Permissions come before the method check (DRF, both sides): anonymous writes are 401."""
    for method in (api_client.post, api_client.put):
        answer = method(PRODUCTS, {}, format="json")
        assert answer.status_code == 401
        assert answer.json()["code"] == "not_authenticated"


def test_categories_page_by_name(api_client, seeded):
    body = api_client.get("/api/v1/catalog/categories").json()
    assert [c["name"] for c in body["results"]] == ["Audio", "Gaming laptops", "Laptops"]
    assert body["results"][1] == {"id": 2, "slug": "gaming-laptops", "name": "Gaming laptops", "parent_id": 1}


def test_an_import_is_visible_at_once_although_the_listing_was_cached(
    api_client, internal_client, seeded, django_capture_on_commit_callbacks
):
    assert api_client.get(PRODUCTS, {"q": "renamed"}).json()["count"] == 0
    assert api_client.get(f"{PRODUCTS}/5").json()["name"] == "Product 00005"
    with django_capture_on_commit_callbacks(execute=True):
        answer = internal_client.post(
            "/internal/v1/import/products",
            {"products": [product_doc(5, name="Renamed five", version=2)]},
            format="json",
        )
    assert answer.json() == {"applied": 1, "stale": 0, "deleted": 0}
    assert api_client.get(PRODUCTS, {"q": "renamed"}).json()["count"] == 1
    assert api_client.get(f"{PRODUCTS}/5").json()["name"] == "Renamed five"


@pytest.mark.parametrize("page", [2**62, 2**63 - 1, 10**23])
def test_a_page_beyond_any_store_offset_is_page_not_found_not_a_500(api_client, seeded, page):
    """Found by fuzzing: (page - 1) * page_size past PostgreSQL's bigint OFFSET was a 500."""
    answer = api_client.get(PRODUCTS, {"page": page, "page_size": 100})
    assert answer.status_code == 404
    assert answer.json() == {
        "code": "page_not_found",
        "message": f"Page {page} is past the last page",
        "extra": {"page": page, "page_size": 100},
    }


def test_categories_page_beyond_any_store_offset_is_page_not_found(api_client, seeded):
    answer = api_client.get("/api/v1/catalog/categories", {"page": 10**23})
    assert answer.status_code == 404
    assert answer.json()["code"] == "page_not_found"


@pytest.mark.parametrize("path", ["/api/v1/catalog/products/null,null", "/api/v2/catalog/products/abc"])
def test_a_product_id_that_is_not_a_number_is_a_json_404(api_client, path):
    """Schema fuzzing saw text/html here: that is Django's DEBUG page; with DEBUG off it is JSON."""
    answer = api_client.get(path)
    assert answer.status_code == 404
    assert answer["Content-Type"] == "application/json"
    assert answer.json()["code"] == "not_found"
