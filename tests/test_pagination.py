"""Every /api/v1 listing pages the same strict way."""

import pytest

from legacy_monolith.accounts.models import Role
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

LISTINGS = [
    ("/api/v1/accounts/users", Role.STAFF),
    ("/api/v1/catalog/products", None),
    ("/api/v1/orders/coupons", Role.STAFF),
    ("/api/v1/orders", Role.CUSTOMER),
    ("/api/v1/payments", Role.CUSTOMER),
]


@pytest.fixture
def caller(api_client, client_for):
    def make(role):
        return client_for(UserFactory(role=role)) if role else api_client

    return make


@pytest.mark.parametrize(("path", "role"), LISTINGS)
@pytest.mark.parametrize("params", [{"page_size": 101}, {"page_size": 0}, {"page": 0}, {"page": "last"}])
def test_a_bad_page_or_page_size_is_a_validation_error(caller, path, role, params):
    response = caller(role).get(path, params)
    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"


@pytest.mark.parametrize(("path", "role"), LISTINGS)
def test_a_page_past_the_end_is_page_not_found(caller, path, role):
    response = caller(role).get(path, {"page": 999})
    assert response.status_code == 404
    assert response.json() == {
        "code": "page_not_found",
        "message": "Page 999 is past the last page",
        "extra": {"page": 999, "page_size": 20},
    }


@pytest.mark.parametrize(("path", "role"), LISTINGS)
def test_the_first_page_of_a_listing_has_the_standard_shape(caller, path, role):
    body = caller(role).get(path).json()
    assert set(body) == {"count", "next", "previous", "results"}
