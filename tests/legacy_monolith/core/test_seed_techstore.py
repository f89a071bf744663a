"""seed_techstore: deterministic, consistent, safe to re-run; the command is a thin shell around it."""

import json
import subprocess
import sys
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.contrib.auth.hashers import check_password
from django.core.management import CommandError, call_command
from django.db.models import Sum

from legacy_monolith.accounts.models import Role, User
from legacy_monolith.catalog.models import Product, StockMovement
from legacy_monolith.core.management.seeding import DEMO_PASSWORD, Mode, SeedError, seed_techstore
from legacy_monolith.orders.models import Coupon, CouponRedemption, Order, OrderItem, ShippingRule
from legacy_monolith.orders.pricing import coupon_discount, shipping_rule_pick
from legacy_monolith.payments.models import Payment, Refund
from tests.factories import OrderFactory, ProductFactory, UserFactory

pytestmark = pytest.mark.django_db

AS_OF = datetime(2026, 6, 1, tzinfo=UTC)
SMALL = {"users": 12, "products": 80, "orders": 40, "seed": 7, "as_of": AS_OF}


def products_dump() -> list[tuple]:
    """Every seeded product and its movement history, without database ids."""
    movements = defaultdict(list)
    for m in StockMovement.objects.order_by("id").values_list(
        "product__sku", "delta", "balance_after", "reason", "reference", "created_at"
    ):
        movements[m[0]].append(m[1:])
    return [
        (*row, tuple(movements[row[0]]))
        for row in Product.objects.order_by("sku").values_list(
            "sku",
            "name",
            "slug",
            "description",
            "category__slug",
            "category__parent__slug",
            "price",
            "currency",
            "attributes",
            "image_urls",
            "stock",
            "weight_grams",
            "is_active",
            "created_at",
            "updated_at",
        )
    ]


def orders_dump() -> list[tuple]:
    return [
        (
            *order,
            tuple(
                OrderItem.objects.filter(order__number=order[0]).order_by("id").values_list("sku", "quantity")
            ),
            tuple(
                Payment.objects.filter(order__number=order[0]).values_list("status", "amount", "card_last4")
            ),
        )
        for order in Order.objects.order_by("number").values_list(
            "number",
            "user__username",
            "status",
            "subtotal",
            "discount_total",
            "shipping_total",
            "total",
            "coupon__code",
            "shipping_name",
            "shipping_postal_code",
            "shipping_country",
            "created_at",
        )
    ]


def users_dump() -> list[tuple]:
    return list(
        User.objects.order_by("username").values_list(
            "username", "email", "first_name", "role", "date_joined"
        )
    )


def test_the_same_seed_gives_the_same_rows():
    seed_techstore(**SMALL)
    first = products_dump(), orders_dump(), users_dump()

    seed_techstore(**SMALL, mode=Mode.RESET)

    assert (products_dump(), orders_dump(), users_dump()) == first
    assert len(first[0]) == 80
    assert len(first[1]) == 40


def test_another_seed_gives_other_products():
    seed_techstore(**{**SMALL, "orders": 0})
    names = [row[1] for row in products_dump()]

    seed_techstore(**{**SMALL, "orders": 0, "seed": 8}, mode=Mode.RESET)

    assert [row[1] for row in products_dump()] != names


def test_products_do_not_depend_on_the_batch_size_or_on_the_other_counts():
    seed_techstore(users=0, products=30, orders=0, seed=3, as_of=AS_OF, batch_size=7)
    small_batches = products_dump()

    seed_techstore(users=5, products=30, orders=0, seed=3, as_of=AS_OF, mode=Mode.RESET)

    assert products_dump() == small_batches


def test_products_look_like_a_tech_store_catalogue():
    seed_techstore(**{**SMALL, "products": 300, "orders": 0})
    products = list(Product.objects.select_related("category__parent"))

    assert all(p.category.parent is not None for p in products), "products sit in leaf categories"
    assert len({p.category.parent.slug for p in products}) >= 8
    assert all({"brand", "color"} <= p.attributes.keys() for p in products)
    assert all(p.image_urls and p.image_urls[0].startswith("https://") for p in products)
    assert all(p.price > 0 and p.weight_grams > 0 for p in products)
    stocks = [p.stock for p in products]
    assert 0 < stocks.count(0) < len(stocks) / 3, "some products are out of stock, most are not"
    laptops = [p for p in products if p.category.parent.slug == "laptops"]
    assert laptops
    assert all("storage_gb" in p.attributes or "gpu" in p.attributes for p in laptops)


def test_stock_levels_match_the_movement_history():
    seed_techstore(**SMALL)

    for product in Product.objects.prefetch_related("stock_movements"):
        history = sorted(product.stock_movements.all(), key=lambda m: m.id)
        balance = 0
        for movement in history:
            balance += movement.delta
            assert movement.balance_after == balance >= 0
        assert balance == product.stock, product.sku
        if history:
            assert history[0].reason == StockMovement.Reason.INITIAL
    by_time = StockMovement.objects.exclude(reason=StockMovement.Reason.INITIAL).order_by("created_at", "id")
    assert list(by_time.values_list("id", flat=True)) == sorted(by_time.values_list("id", flat=True))


def test_every_order_line_reserved_stock_and_cancelled_orders_released_it():
    seed_techstore(**SMALL)

    for item in OrderItem.objects.select_related("order"):
        reasons = Counter(
            StockMovement.objects.filter(product_id=item.product_id, reference=item.order.number).values_list(
                "reason", "delta"
            )
        )
        assert reasons[(StockMovement.Reason.RESERVATION, -item.quantity)] == 1
        released = reasons[(StockMovement.Reason.RELEASE, item.quantity)]
        assert released == (1 if item.order.status == Order.Status.CANCELLED else 0)


def test_order_totals_add_up_with_the_monolith_pricing_rules():
    seed_techstore(**SMALL)
    rules = list(ShippingRule.objects.all())

    orders = Order.objects.prefetch_related("items__product").select_related("coupon")
    assert {o.status for o in orders} >= {Order.Status.SHIPPED, Order.Status.CANCELLED}
    for order in orders:
        items = list(order.items.all())
        assert items
        for item in items:
            assert item.unit_price == item.product.price
            assert item.sku == item.product.sku
            assert item.line_total == item.unit_price * item.quantity
        assert order.subtotal == sum(i.line_total for i in items)
        assert order.total == order.subtotal - order.discount_total + order.shipping_total
        weight = sum(i.product.weight_grams * i.quantity for i in items)
        rule = shipping_rule_pick(
            rules, country=order.shipping_country, postal_code=order.shipping_postal_code, weight_grams=weight
        )
        assert (order.shipping_total, order.shipping_carrier) == (rule.price, rule.carrier)
        expected_discount = (
            coupon_discount(kind=order.coupon.kind, value=order.coupon.value, subtotal=order.subtotal)
            if order.coupon
            else Decimal("0.00")
        )
        assert order.discount_total == expected_discount
        assert order.created_at < order.paid_at < AS_OF
        assert order.user.date_joined < order.created_at


def test_payments_match_their_orders():
    seed_techstore(**SMALL)

    for order in Order.objects.prefetch_related("payments__refunds"):
        (payment,) = order.payments.all()
        assert payment.amount == order.total
        assert payment.user_id == order.user_id
        assert len(payment.card_last4) == 4
        assert payment.card_token.startswith("tok_")
        if order.status == Order.Status.CANCELLED:
            assert payment.status == Payment.Status.REFUNDED
            assert payment.amount_refunded == order.total
            (refund,) = payment.refunds.all()
            assert refund.amount == order.total
            assert refund.status == Refund.Status.SUCCEEDED
            assert order.coupon is None
            assert order.cancelled_at > order.paid_at
        else:
            assert payment.status == Payment.Status.CAPTURED
            assert not payment.refunds.exists()


def test_coupon_usage_counts_match_their_redemptions():
    seed_techstore(**{**SMALL, "orders": 120})

    coupons = {c.code: c for c in Coupon.objects.all()}
    assert coupons["WELCOME10"].kind == Coupon.Kind.PERCENT
    assert coupons["FIVEOFF"].kind == Coupon.Kind.FIXED
    for coupon in coupons.values():
        assert coupon.times_used == CouponRedemption.objects.filter(coupon=coupon).count()
        assert coupon.times_used == Order.objects.filter(coupon=coupon).count()
    assert sum(c.times_used for c in coupons.values()) > 0


def test_seeded_users_share_one_demo_password_hash_and_have_their_role_group():
    seed_techstore(**SMALL)

    users = User.objects.prefetch_related("groups")
    assert Counter(u.role for u in users) == {Role.CUSTOMER: 12, Role.STAFF: 3, Role.ADMIN: 1}
    assert len({u.password for u in users}) == 1
    assert check_password(DEMO_PASSWORD, User.objects.get(username="staff1").password)
    admin = User.objects.get(username="admin")
    assert admin.is_superuser
    assert admin.is_staff
    assert all([g.name for g in u.groups.all()] == [u.role] for u in users)


def test_seeding_a_seeded_database_again_is_refused_and_adds_nothing():
    seed_techstore(**SMALL)

    with pytest.raises(SeedError, match=r"--append .* --reset"):
        seed_techstore(**SMALL)

    assert Product.objects.count() == 80
    assert Order.objects.count() == 40


def test_append_continues_after_the_seeded_skus_usernames_and_order_numbers():
    seed_techstore(**SMALL)

    result = seed_techstore(users=3, products=5, orders=4, seed=7, as_of=AS_OF, mode=Mode.APPEND)

    assert (result.first_sku[:10], result.last_sku[:10]) == ("TS-0000081", "TS-0000085")
    assert Product.objects.count() == 85
    assert User.objects.filter(role=Role.CUSTOMER).count() == 15
    assert User.objects.filter(username="admin").count() == 1
    assert Order.objects.order_by("-number").first().number == "SEED-00000044"
    for product in Product.objects.all():
        moved = StockMovement.objects.filter(product=product).aggregate(total=Sum("delta"))["total"] or 0
        assert moved == product.stock


def test_reset_deletes_seeded_rows_and_keeps_rows_users_made():
    own_product = ProductFactory(sku="SHOP-1")
    own_customer = UserFactory(username="real-customer")
    own_order = OrderFactory(user=own_customer, lines=[(own_product, 1)])
    long_ago = AS_OF - timedelta(days=800)  # old enough to be picked, if the seed picked rows it did not make
    Product.objects.filter(pk=own_product.pk).update(created_at=long_ago, stock=500)
    User.objects.filter(pk=own_customer.pk).update(date_joined=long_ago)
    seed_techstore(**SMALL)
    assert list(Order.objects.filter(user=own_customer)) == [own_order]
    assert list(OrderItem.objects.filter(product=own_product).values_list("order", flat=True)) == [
        own_order.pk
    ]

    result = seed_techstore(users=2, products=10, orders=3, seed=9, as_of=AS_OF, mode=Mode.RESET)

    assert result.deleted["products"] == 80
    assert result.deleted["orders"] == 40
    assert Product.objects.filter(pk=own_product.pk).exists()
    assert Order.objects.filter(pk=own_order.pk).exists()
    assert User.objects.filter(pk=own_customer.pk).exists()
    assert Product.objects.count() == 11


def test_reset_refuses_when_a_real_order_contains_a_seeded_product():
    seed_techstore(**SMALL)
    seeded = Product.objects.filter(stock__gt=0).first()
    OrderFactory(user=UserFactory(), lines=[(seeded, 1)])

    with pytest.raises(SeedError, match="order lines outside the seeded data"):
        seed_techstore(**SMALL, mode=Mode.RESET)

    assert Product.objects.filter(pk=seeded.pk).exists()


def test_an_empty_shipping_rule_table_gets_the_default_rates_and_a_filled_one_is_left_alone():
    ShippingRule.objects.all().delete()
    result = seed_techstore(**{**SMALL, "orders": 0})
    assert result.created["shipping_rules"] == ShippingRule.objects.count() > 0

    ShippingRule.objects.all().delete()
    ShippingRule.objects.create(name="Flat", country="FR", price=Decimal("5.00"), carrier="laposte")
    seed_techstore(**{**SMALL, "orders": 5}, mode=Mode.RESET)
    assert ShippingRule.objects.count() == 1
    assert set(Order.objects.values_list("shipping_country", flat=True)) <= {"FR", "DE", "BE"}


@pytest.mark.parametrize(
    ("counts", "message"),
    [
        ({"users": 0, "products": 10, "orders": 5}, "orders need seeded customers"),
        ({"users": 5, "products": 0, "orders": 5}, "orders need seeded products in stock"),
        ({"users": -1, "products": 0, "orders": 0}, "--users must be zero or more"),
        ({"users": 0, "products": 0, "orders": -3}, "--orders must be zero or more"),
    ],
)
def test_impossible_requests_fail_with_a_clear_error(counts, message):
    with pytest.raises(SeedError, match=message):
        seed_techstore(**counts, seed=1, as_of=AS_OF)
    assert not Order.objects.exists()


def test_the_command_prints_a_summary_or_json(capsys):
    call_command("seed_techstore", "--users", "3", "--products", "20", "--orders", "5", "--no-progress")
    out = capsys.readouterr().out
    assert "products" in out
    assert DEMO_PASSWORD in out

    call_command(
        "seed_techstore",
        "--users",
        "1",
        "--products",
        "2",
        "--orders",
        "0",
        "--append",
        "--json",
        "--as-of",
        "2026-01-31",
    )
    summary = json.loads(capsys.readouterr().out)
    assert summary["created"]["products"] == 2
    assert summary["mode"] == "append"
    assert summary["as_of"] == "2026-01-31T00:00:00+00:00"


def test_the_command_refuses_a_seeded_database_with_a_command_error():
    call_command("seed_techstore", "--users", "1", "--products", "5", "--orders", "0", "--no-progress")
    with pytest.raises(CommandError, match="already holds seeded data"):
        call_command("seed_techstore", "--products", "5", "--no-progress")


def test_if_empty_seeds_a_fresh_database_and_leaves_a_seeded_one_alone(capsys):
    """What a deployment's bootstrap runs on every start: the first seeds, the next ones do nothing."""
    argv = ("--users", "1", "--products", "5", "--orders", "0", "--no-progress", "--if-empty", "--json")
    call_command("seed_techstore", *argv)
    assert json.loads(capsys.readouterr().out)["created"]["products"] == 5
    call_command("seed_techstore", *argv)
    assert json.loads(capsys.readouterr().out) == {
        "skipped": True,
        "existing": {"products": 5, "users": 5, "orders": 0},  # 1 customer + the back-office accounts
    }
    assert Product.objects.count() == 5


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--users", "-1"], "must be zero or more"),
        (["--products", "-5"], "must be zero or more"),
        (["--orders", "many"], "is not a whole number"),
        (["--batch-size", "0"], "must be at least 1"),
        (["--as-of", "yesterday"], "is not a date"),
        (["--append", "--reset"], "not allowed with argument"),
        (["--append", "--if-empty"], "not allowed with argument"),
    ],
)
def test_bad_arguments_are_refused_before_anything_is_written(argv, message):
    with pytest.raises(CommandError, match=message):
        call_command("seed_techstore", *argv, "--no-progress")
    assert not Product.objects.exists()


def test_a_negative_count_exits_non_zero_from_the_shell():
    result = subprocess.run(
        [sys.executable, "manage.py", "seed_techstore", "--products", "-1"],
        cwd=Path(__file__).resolve().parents[3],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert "--products: must be zero or more, not -1" in result.stderr


def test_orders_stop_with_a_clear_error_when_the_catalogue_sells_out():
    with pytest.raises(SeedError, match="ran out of stock"):
        seed_techstore(users=2, products=3, orders=500, seed=1, as_of=AS_OF)
    assert not Order.objects.exists()


@pytest.mark.parametrize("seed", range(4))
def test_a_tiny_catalogue_still_seeds_orders(seed):
    seed_techstore(users=2, products=4, orders=2, seed=seed, as_of=AS_OF)

    assert Order.objects.count() == 2
    for order in Order.objects.prefetch_related("items"):
        skus = [item.sku for item in order.items.all()]
        assert len(skus) == len(set(skus)) >= 1
