"""Two tabs adding the same product at the same moment: the cart ends with the sum."""

import threading

import pytest
from django.db import connection

from legacy_monolith.orders.models import CartItem
from legacy_monolith.orders.services import cart_item_add
from tests.factories import ProductFactory, UserFactory


@pytest.mark.django_db(transaction=True)
def test_concurrent_adds_of_the_same_product_are_both_counted():
    user = UserFactory()
    product = ProductFactory(stock=50)
    barrier = threading.Barrier(4)
    errors: list[Exception] = []

    def add():
        try:
            barrier.wait(timeout=10)
            cart_item_add(user=user, product_id=product.id, quantity=2)
        except Exception as exc:  # collected and asserted below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=add) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert errors == []
    assert CartItem.objects.get(cart__user=user, product=product).quantity == 8
