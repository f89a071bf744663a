"""GET/DELETE /cart, POST /cart/items, PUT/DELETE /cart/items/<product_id>."""

import pytest

from legacy_monolith.orders.models import Cart, CartItem
from tests.factories import ProductFactory, UserFactory

from .factories import CartItemFactory

pytestmark = pytest.mark.django_db

CART = "/api/v1/orders/cart"
ITEMS = "/api/v1/orders/cart/items"


def line_quantities(user):
    return {i.product_id: i.quantity for i in CartItem.objects.filter(cart__user=user)}


def test_an_empty_cart_reads_as_empty_without_creating_one(shopper, customer):
    response = shopper.get(CART)
    assert response.status_code == 200
    assert response.json() == {"items": [], "subtotal": "0.00", "total_weight_grams": 0, "item_count": 0}
    assert not Cart.objects.filter(user=customer).exists()


def test_adding_a_product_answers_201_with_the_priced_cart(shopper):
    product = ProductFactory(price="19.99", stock=10, weight_grams=300)
    response = shopper.post(ITEMS, {"product_id": product.id, "quantity": 2}, format="json")
    assert response.status_code == 201
    assert response.json() == {
        "items": [
            {
                "product_id": product.id,
                "sku": product.sku,
                "name": product.name,
                "unit_price": "19.99",
                "quantity": 2,
                "line_total": "39.98",
                "available_stock": 10,
            }
        ],
        "subtotal": "39.98",
        "total_weight_grams": 600,
        "item_count": 2,
    }


def test_adding_a_product_already_in_the_cart_adds_to_its_line(shopper, customer):
    product = ProductFactory(stock=10)
    shopper.post(ITEMS, {"product_id": product.id, "quantity": 2}, format="json")
    response = shopper.post(ITEMS, {"product_id": product.id, "quantity": 3}, format="json")
    assert response.status_code == 201
    assert line_quantities(customer) == {product.id: 5}
    assert response.json()["item_count"] == 5


def test_the_cart_is_priced_at_current_prices(shopper, customer):
    product = ProductFactory(price="10.00")
    CartItemFactory(cart__user=customer, product=product, quantity=3)
    product.price = "12.50"
    product.save()
    body = shopper.get(CART).json()
    assert (body["items"][0]["unit_price"], body["subtotal"]) == ("12.50", "37.50")


def test_adding_more_than_the_stock_is_409_out_of_stock(shopper, customer):
    product = ProductFactory(stock=3)
    shopper.post(ITEMS, {"product_id": product.id, "quantity": 2}, format="json")
    response = shopper.post(ITEMS, {"product_id": product.id, "quantity": 2}, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "out_of_stock"
    assert response.json()["extra"] == {"product_id": product.id, "requested": 4, "available": 3}
    assert line_quantities(customer) == {product.id: 2}


def test_a_line_cannot_go_past_99_units(shopper, customer):
    product = ProductFactory(stock=500)
    shopper.post(ITEMS, {"product_id": product.id, "quantity": 99}, format="json")
    response = shopper.post(ITEMS, {"product_id": product.id, "quantity": 1}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "cart_line_limit_exceeded"
    assert response.json()["extra"]["max_quantity"] == 99
    assert line_quantities(customer) == {product.id: 99}


@pytest.mark.parametrize("make", [lambda: ProductFactory(is_active=False), lambda: None])
def test_an_inactive_or_unknown_product_is_404_product_not_found(shopper, make):
    product = make()
    product_id = product.id if product else 987654321
    response = shopper.post(ITEMS, {"product_id": product_id, "quantity": 1}, format="json")
    assert response.status_code == 404
    assert response.json()["code"] == "product_not_found"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"quantity": 1}, "product_id"),
        ({"product_id": 1}, "quantity"),
        ({"product_id": "1", "quantity": 1}, "product_id"),
        ({"product_id": 1.5, "quantity": 1}, "product_id"),
        ({"product_id": True, "quantity": 1}, "product_id"),
        ({"product_id": None, "quantity": 1}, "product_id"),
        ({"product_id": 0, "quantity": 1}, "product_id"),
        ({"product_id": -4, "quantity": 1}, "product_id"),
        ({"product_id": 2**63, "quantity": 1}, "product_id"),
        ({"product_id": 10**30, "quantity": 1}, "product_id"),
        ({"product_id": "PID", "quantity": 1}, "product_id"),
        ({"product_id": 1, "quantity": 0}, "quantity"),
        ({"product_id": 1, "quantity": -1}, "quantity"),
        ({"product_id": 1, "quantity": 100}, "quantity"),
        ({"product_id": 1, "quantity": 10**12}, "quantity"),
        ({"product_id": 1, "quantity": "2"}, "quantity"),
        ({"product_id": 1, "quantity": 2.0}, "quantity"),
        ({"product_id": 1, "quantity": [2]}, "quantity"),
        ({"product_id": 1, "quantity": {"n": 2}}, "quantity"),
        ({"product_id": 1, "quantity": False}, "quantity"),
    ],
)
def test_bad_cart_lines_are_400_validation_errors_naming_the_field(shopper, customer, body, field):
    ProductFactory(id=1)
    response = shopper.post(ITEMS, body, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
    assert field in response.json()["extra"]["fields"]
    assert line_quantities(customer) == {}


@pytest.mark.parametrize("raw", ["{bad json", "null", "[]", '"text"', "42", ""])
def test_bodies_that_are_not_a_json_object_are_4xx_with_an_error_body(shopper, raw):
    response = shopper.generic("POST", ITEMS, raw, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] in {"malformed_request", "validation_error"}
    if raw == "{bad json":
        assert response.json()["code"] == "malformed_request"


def test_a_form_encoded_body_is_415(shopper):
    response = shopper.post(ITEMS, {"product_id": 1, "quantity": 1})
    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"


def test_put_sets_the_quantity_of_a_line(shopper, customer):
    product = ProductFactory(stock=10)
    CartItemFactory(cart__user=customer, product=product, quantity=5)
    response = shopper.put(f"{ITEMS}/{product.id}", {"quantity": 2}, format="json")
    assert response.status_code == 200
    assert response.json()["items"][0]["quantity"] == 2
    assert shopper.put(f"{ITEMS}/{product.id}", {"quantity": 2}, format="json").status_code == 200
    assert line_quantities(customer) == {product.id: 2}


def test_put_above_the_stock_is_409_and_keeps_the_line(shopper, customer):
    product = ProductFactory(stock=4)
    CartItemFactory(cart__user=customer, product=product, quantity=1)
    response = shopper.put(f"{ITEMS}/{product.id}", {"quantity": 5}, format="json")
    assert (response.status_code, response.json()["code"]) == (409, "out_of_stock")
    assert line_quantities(customer) == {product.id: 1}


@pytest.mark.parametrize("quantity", [0, -1, 100, "3", None])
def test_put_refuses_quantities_that_are_not_1_to_99(shopper, customer, quantity):
    product = ProductFactory()
    CartItemFactory(cart__user=customer, product=product, quantity=1)
    response = shopper.put(f"{ITEMS}/{product.id}", {"quantity": quantity}, format="json")
    assert (response.status_code, response.json()["code"]) == (400, "validation_error")
    assert line_quantities(customer) == {product.id: 1}


@pytest.mark.parametrize("method", ["put", "delete"])
@pytest.mark.parametrize("product_id", ["424242", "99999999999999999999999"])
def test_a_line_that_is_not_in_the_cart_is_404_cart_item_not_found(shopper, method, product_id):
    response = getattr(shopper, method)(f"{ITEMS}/{product_id}", {"quantity": 1}, format="json")
    assert (response.status_code, response.json()["code"]) == (404, "cart_item_not_found")


def test_a_non_numeric_product_id_in_the_path_is_a_json_404(shopper):
    response = shopper.delete(f"{ITEMS}/abc")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_delete_removes_one_line(shopper, customer):
    keep, drop = ProductFactory(), ProductFactory()
    CartItemFactory(cart__user=customer, product=keep, quantity=1)
    CartItemFactory(cart__user=customer, product=drop, quantity=2)
    response = shopper.delete(f"{ITEMS}/{drop.id}")
    assert response.status_code == 200
    assert [i["product_id"] for i in response.json()["items"]] == [keep.id]


def test_delete_cart_empties_it_and_is_idempotent(shopper, customer):
    CartItemFactory(cart__user=customer, quantity=1)
    assert shopper.delete(CART).status_code == 204
    assert shopper.delete(CART).status_code == 204
    assert shopper.get(CART).json()["items"] == []


def test_a_deactivated_product_shows_no_available_stock(shopper, customer):
    product = ProductFactory(stock=8)
    CartItemFactory(cart__user=customer, product=product, quantity=1)
    product.is_active = False
    product.save()
    assert shopper.get(CART).json()["items"][0]["available_stock"] == 0


def test_each_customer_sees_only_their_own_cart(shopper, customer, client_for):
    other = UserFactory()
    CartItemFactory(cart__user=other, quantity=4)
    assert shopper.get(CART).json()["items"] == []
    assert client_for(other).get(CART).json()["item_count"] == 4


@pytest.mark.parametrize(
    ("method", "path"),
    [("get", CART), ("delete", CART), ("post", ITEMS), ("put", f"{ITEMS}/1"), ("delete", f"{ITEMS}/1")],
)
def test_the_cart_needs_a_signed_in_customer(api_client, method, path):
    response = getattr(api_client, method)(path, {}, format="json")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
