"""factory_boy factories for the monolith's models. They keep the models' invariants: a product's
stock matches its INITIAL movement, an order's totals add up from its items."""

from decimal import Decimal

import factory
from django.contrib.auth.hashers import make_password
from django.utils import timezone

from legacy_monolith.accounts.models import Role, User
from legacy_monolith.accounts.roles import role_group_get
from legacy_monolith.catalog.models import Category, Product, StockMovement
from legacy_monolith.orders.models import Coupon, Order, OrderItem, ShippingRule

DEFAULT_PASSWORD = "correct-horse-battery-staple"
# One real PBKDF2 hash shared by every factory user: realistic hashes, without 1M iterations per user.
_DEFAULT_PASSWORD_HASH = make_password(DEFAULT_PASSWORD)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    role = Role.CUSTOMER
    password = _DEFAULT_PASSWORD_HASH
    is_staff = factory.LazyAttribute(lambda u: u.role in (Role.STAFF, Role.ADMIN))
    is_superuser = factory.LazyAttribute(lambda u: u.role == Role.ADMIN)

    @factory.post_generation
    def role_group(obj, create, extracted, **kwargs):
        """Put the user in their role's Group, as the accounts services do, so permissions are real."""
        if create:
            obj.groups.add(role_group_get(role=obj.role))


class CategoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Category
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Category {n}")
    slug = factory.Sequence(lambda n: f"category-{n}")


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product
        skip_postgeneration_save = True

    sku = factory.Sequence(lambda n: f"SKU-{n:06d}")
    name = factory.Sequence(lambda n: f"Product {n}")
    slug = factory.LazyAttribute(lambda p: p.sku.lower())
    description = "A product for tests"
    category = factory.SubFactory(CategoryFactory)
    price = Decimal("19.99")
    attributes = factory.LazyFunction(lambda: {"brand": "Acme", "color": "black"})
    image_urls = factory.LazyFunction(lambda: ["https://img.techstore.example/p/1.jpg"])
    stock = 10
    weight_grams = 500

    @factory.post_generation
    def initial_movement(obj, create, extracted, **kwargs):
        if create and obj.stock:
            StockMovement.objects.create(
                product=obj, delta=obj.stock, balance_after=obj.stock, reason=StockMovement.Reason.INITIAL
            )


class ShippingRuleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ShippingRule

    name = "Standard"
    country = "FR"
    postal_prefix = ""
    min_weight_grams = 0
    max_weight_grams = None
    price = Decimal("4.90")
    carrier = "colissimo"
    delivery_days = 3


class CouponFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Coupon

    code = factory.Sequence(lambda n: f"SAVE{n}")
    kind = Coupon.Kind.PERCENT
    value = Decimal("10")
    min_order_total = Decimal("0")
    expires_at = factory.LazyFunction(lambda: timezone.now() + timezone.timedelta(days=30))


class OrderFactory(factory.django.DjangoModelFactory):
    """An order with one line of a fresh product; totals are computed from that line."""

    class Meta:
        model = Order
        skip_postgeneration_save = True

    number = factory.Sequence(lambda n: f"TS-{n:08d}")
    user = factory.SubFactory(UserFactory)
    status = Order.Status.PAID
    subtotal = Decimal("0")
    total = Decimal("0")
    shipping_name = "Ada Lovelace"
    shipping_line1 = "1 rue de Rivoli"
    shipping_city = "Paris"
    shipping_postal_code = "75001"
    shipping_country = "FR"

    @factory.post_generation
    def lines(obj, create, extracted, **kwargs):
        if not create:
            return
        for product, quantity in extracted or [(ProductFactory(), 1)]:
            line_total = product.price * quantity
            OrderItem.objects.create(
                order=obj,
                product=product,
                sku=product.sku,
                name=product.name,
                unit_price=product.price,
                quantity=quantity,
                line_total=line_total,
            )
            obj.subtotal += line_total
        obj.total = obj.subtotal - obj.discount_total + obj.shipping_total
        obj.save(update_fields=["subtotal", "total"])
