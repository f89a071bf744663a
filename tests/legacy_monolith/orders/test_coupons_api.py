"""POST /coupons/validate for the current cart; staff GET/POST /coupons."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from legacy_monolith.orders.models import Coupon
from tests.factories import CouponFactory, ProductFactory

from .factories import CartItemFactory

pytestmark = pytest.mark.django_db

VALIDATE = "/api/v1/orders/coupons/validate"
COUPONS = "/api/v1/orders/coupons"


@pytest.fixture
def cart_of_60(customer):
    """Three units at 20.00 in the customer's cart."""
    return CartItemFactory(cart__user=customer, product=ProductFactory(price="20.00"), quantity=3)


def test_a_percent_coupon_quotes_its_discount_on_the_cart(shopper, cart_of_60):
    CouponFactory(code="SPRING15", kind="percent", value=Decimal("15"))
    response = shopper.post(VALIDATE, {"code": "SPRING15"}, format="json")
    assert response.status_code == 200
    assert response.json() == {
        "code": "SPRING15",
        "kind": "percent",
        "value": "15.00",
        "discount": "9.00",
        "subtotal": "60.00",
    }


def test_codes_are_case_insensitive(shopper, cart_of_60):
    CouponFactory(code="WELCOME10")
    assert shopper.post(VALIDATE, {"code": " welcome10 "}, format="json").json()["code"] == "WELCOME10"


def test_a_fixed_coupon_never_takes_more_than_the_subtotal(shopper, customer):
    CartItemFactory(cart__user=customer, product=ProductFactory(price="7.50"), quantity=1)
    CouponFactory(code="TENOFF", kind="fixed", value=Decimal("10"))
    assert shopper.post(VALIDATE, {"code": "TENOFF"}, format="json").json()["discount"] == "7.50"


def soon(**delta):
    return timezone.now() + timedelta(**delta)


@pytest.mark.parametrize(
    ("coupon", "code"),
    [
        ({"is_active": False}, "coupon_inactive"),
        ({"expires_at": soon(days=-1)}, "coupon_expired"),
        ({"valid_from": soon(days=1), "expires_at": soon(days=9)}, "coupon_not_yet_valid"),
        ({"usage_limit": 2, "times_used": 2}, "coupon_exhausted"),
        ({"min_order_total": Decimal("60.01")}, "coupon_min_order_not_met"),
    ],
)
def test_a_coupon_outside_its_terms_is_400_with_its_reason(shopper, cart_of_60, coupon, code):
    CouponFactory(code="PROMO", **coupon)
    response = shopper.post(VALIDATE, {"code": "PROMO"}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == code


def test_an_unknown_code_is_coupon_not_found(shopper):
    response = shopper.post(VALIDATE, {"code": "NOPE"}, format="json")
    assert (response.status_code, response.json()["code"]) == (400, "coupon_not_found")


@pytest.mark.parametrize("body", [{}, {"code": ""}, {"code": "X" * 33}, {"code": ["A"]}, {"code": None}])
def test_a_missing_or_malformed_code_is_a_validation_error(shopper, body):
    response = shopper.post(VALIDATE, body, format="json")
    assert (response.status_code, response.json()["code"]) == (400, "validation_error")


def test_staff_create_coupons_with_upper_case_codes(client_for, staff_user):
    response = client_for(staff_user).post(
        COUPONS,
        {
            "code": "black-friday",
            "kind": "fixed",
            "value": "15.00",
            "min_order_total": "100",
            "expires_at": "2030-11-30T23:59:59Z",
            "usage_limit": 500,
        },
        format="json",
    )
    assert response.status_code == 201
    body = response.json()
    assert body["code"] == "BLACK-FRIDAY"
    assert (body["kind"], body["value"], body["min_order_total"]) == ("fixed", "15.00", "100.00")
    assert (body["usage_limit"], body["times_used"], body["is_active"]) == (500, 0, True)
    assert body["expires_at"] == "2030-11-30T23:59:59Z"
    assert Coupon.objects.get(code="BLACK-FRIDAY").value == Decimal("15.00")


def test_a_code_taken_in_another_case_is_409(client_for, staff_user):
    CouponFactory(code="SUMMER")
    response = client_for(staff_user).post(
        COUPONS, {"code": "summer", "kind": "percent", "value": "5"}, format="json"
    )
    assert (response.status_code, response.json()["code"]) == (409, "coupon_code_taken")


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"kind": "percent", "value": "101"}, "invalid_coupon"),
        ({"kind": "percent", "value": "0"}, "invalid_coupon"),
        ({"kind": "fixed", "value": "-5"}, "invalid_coupon"),
        ({"kind": "fixed", "value": "5", "min_order_total": "-1"}, "invalid_coupon"),
        (
            {
                "kind": "fixed",
                "value": "5",
                "valid_from": "2030-01-02T00:00:00Z",
                "expires_at": "2030-01-01T00:00:00Z",
            },
            "invalid_coupon",
        ),
        ({"code": "has space", "kind": "fixed", "value": "5"}, "invalid_coupon"),
        ({"kind": "bogo", "value": "5"}, "validation_error"),
        ({"kind": "fixed", "value": "abc"}, "validation_error"),
        ({"kind": "fixed", "value": "NaN"}, "validation_error"),
        ({"kind": "fixed", "value": "5.555"}, "validation_error"),
        ({"kind": "fixed", "value": "1e20"}, "validation_error"),
        ({"kind": "fixed", "value": "5", "usage_limit": 0}, "validation_error"),
        ({"kind": "fixed", "value": "5", "usage_limit": "10"}, "validation_error"),
        ({"kind": "fixed", "value": "5", "expires_at": "tomorrow"}, "validation_error"),
        ({"kind": "fixed"}, "validation_error"),
    ],
)
def test_staff_get_a_4xx_for_coupons_that_cannot_exist(client_for, staff_user, body, code):
    response = client_for(staff_user).post(COUPONS, {"code": "NEWCODE", **body}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == code
    assert not Coupon.objects.filter(code__in=["NEWCODE", "HAS SPACE"]).exists()


def test_staff_list_coupons_newest_first(client_for, staff_user):
    older, newer = CouponFactory(code="OLD"), CouponFactory(code="NEW")
    body = client_for(staff_user).get(COUPONS).json()
    assert body["count"] == 2
    assert [c["code"] for c in body["results"]] == [newer.code, older.code]


@pytest.mark.parametrize("method", ["get", "post"])
def test_customers_cannot_manage_coupons(shopper, method):
    response = getattr(shopper, method)(COUPONS, {"code": "X", "kind": "fixed", "value": "1"}, format="json")
    assert (response.status_code, response.json()["code"]) == (403, "permission_denied")
