"""Factories the orders tests need beyond tests/factories.py."""

import factory

from legacy_monolith.orders.models import Cart, CartItem
from tests.factories import ProductFactory, UserFactory


class CartFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Cart
        django_get_or_create = ("user",)

    user = factory.SubFactory(UserFactory)


class CartItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CartItem

    cart = factory.SubFactory(CartFactory)
    product = factory.SubFactory(ProductFactory)
    quantity = 1
