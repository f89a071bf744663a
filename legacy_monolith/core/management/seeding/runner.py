"""seed_techstore(): the whole seed in one transaction, and what it did as a result object.

Re-running is safe: a database that already holds seeded rows is refused unless the caller says
`append` (new rows continue after the seeded SKUs, usernames and order numbers) or `reset` (seeded
rows, recognised by their markers, are deleted first). Rows users made are never touched.
"""

from __future__ import annotations

import random
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

from django.db import transaction
from django.db.models import Count, F
from django.utils import timezone

from legacy_monolith.accounts.models import User
from legacy_monolith.catalog.models import Product, StockMovement
from legacy_monolith.orders.models import CartItem, Coupon, CouponRedemption, Order, OrderItem
from legacy_monolith.payments.models import Payment, Refund

from .base import (
    DEMO_PASSWORD,
    MAX_SEEDED_PRODUCTS,
    SEED_ORDER_PREFIX,
    SEED_SKU_PREFIX,
    SEED_SKU_REGEX,
    NullProgress,
    Progress,
    SeedError,
    database_vendor,
    explicit_timestamps,
)
from .catalog import categories_ensure, products_seed
from .orders import coupons_ensure, last_order_number, orders_seed, shipping_rules_ensure
from .people import last_customer_number, seeded_users, users_seed


class Mode(StrEnum):
    FRESH = "fresh"  # refuse when seeded rows exist
    APPEND = "append"  # add rows after the existing seeded ones
    RESET = "reset"  # delete seeded rows, then seed


@dataclass
class SeedResult:
    seed: int
    mode: str
    as_of: datetime
    database: str
    created: dict[str, int] = field(default_factory=dict)
    deleted: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    total_seconds: float = 0.0
    first_sku: str | None = None
    last_sku: str | None = None
    demo_password: str = DEMO_PASSWORD

    def as_dict(self) -> dict:
        data = asdict(self)
        data["as_of"] = self.as_of.isoformat()
        return data


def seeded_products():
    return Product.objects.filter(sku__regex=SEED_SKU_REGEX)


def seeded_orders():
    return Order.objects.filter(number__startswith=SEED_ORDER_PREFIX)


def seeded_data_counts() -> dict[str, int]:
    return {
        "products": seeded_products().count(),
        "users": seeded_users().count(),
        "orders": seeded_orders().count(),
    }


def seed_techstore(
    *,
    users: int,
    products: int,
    orders: int,
    seed: int,
    mode: Mode | str = Mode.FRESH,
    batch_size: int = 5000,
    as_of: datetime | None = None,
    progress: Progress | None = None,
) -> SeedResult:
    """Seed `users` customers (plus the back-office accounts), `products` products and `orders` orders.

    Deterministic: the same seed, counts, as-of time and starting database give the same rows. `as_of`
    (default: today 00:00 UTC) anchors every timestamp; product, user and order streams have their own
    RNGs, so e.g. changing --orders does not change the products.
    """
    mode = _validated(users=users, products=products, orders=orders, batch_size=batch_size, mode=mode)
    as_of = _as_of(as_of)
    progress = progress or NullProgress()
    result = SeedResult(seed=seed, mode=mode.value, as_of=as_of, database=database_vendor())
    started = time.perf_counter()
    timed = _Timer(result)
    with (
        transaction.atomic(),
        explicit_timestamps(Product, StockMovement, User, Order, Payment, Refund, CouponRedemption),
    ):
        existing = seeded_data_counts()
        if mode is Mode.FRESH and any(existing.values()):
            found = ", ".join(f"{n} {what}" for what, n in existing.items() if n)
            raise SeedError(
                f"the database already holds seeded data ({found}); "
                "pass --append to add more or --reset to delete seeded rows and seed again"
            )
        if mode is Mode.RESET:
            with timed("reset"):
                result.deleted = seeded_data_delete()
        first_sku = _last_sku_number() + 1
        if first_sku + products - 1 > MAX_SEEDED_PRODUCTS:
            raise SeedError(f"seeded SKUs are numbered up to {MAX_SEEDED_PRODUCTS}; ask for fewer products")
        first_customer, first_order = last_customer_number() + 1, last_order_number() + 1

        def rng(stream: str, offset: int) -> random.Random:
            return random.Random(f"techstore:{seed}:{stream}:{offset}")

        with timed("categories"):
            categories, result.created["categories"] = categories_ensure()
            result.created["shipping_rules"] = shipping_rules_ensure()
            coupons, result.created["coupons"] = coupons_ensure()
        with timed("products"):
            made, movements = products_seed(
                rng=rng("products", first_sku),
                count=products,
                first_number=first_sku,
                categories=categories,
                as_of=as_of,
                batch_size=batch_size,
                progress=progress,
            )
            result.created["products"], result.created["stock_movements"] = made, movements
        if made:
            result.first_sku = (
                seeded_products().filter(sku__gte=f"{SEED_SKU_PREFIX}{first_sku:07d}").order_by("sku")[0].sku
            )
            result.last_sku = seeded_products().order_by("-sku")[0].sku
        with timed("users"):
            result.created["users"] = users_seed(
                rng=rng("users", first_customer),
                customers=users,
                first_number=first_customer,
                as_of=as_of,
                batch_size=batch_size,
                progress=progress,
            )
        with timed("orders"):
            for table, n in orders_seed(
                rng=rng("orders", first_order),
                count=orders,
                first_number=first_order,
                coupons=coupons,
                as_of=as_of,
                batch_size=batch_size,
                progress=progress,
            ).items():
                result.created[table] = result.created.get(table, 0) + n
    result.total_seconds = round(time.perf_counter() - started, 3)
    return result


def seeded_data_delete() -> dict[str, int]:
    """Delete seeded rows and what hangs on them (orders of seeded customers, their payments).

    Refuses when an order that is not seeded contains a seeded product: deleting it would rewrite a
    real customer's history. Coupons, categories and shipping rules stay.
    """
    products, users = seeded_products(), seeded_users()
    orders = Order.objects.filter(number__startswith=SEED_ORDER_PREFIX) | Order.objects.filter(user__in=users)
    order_ids = list(orders.values_list("id", flat=True))
    blocking = OrderItem.objects.filter(product__in=products).exclude(order_id__in=order_ids).count()
    if blocking:
        raise SeedError(
            f"{blocking} order lines outside the seeded data contain seeded products; "
            "--reset refuses to delete them (drop the database instead)"
        )
    deleted: dict[str, int] = {}
    payments = Payment.objects.filter(order_id__in=order_ids)
    deleted["refunds"] = _delete(Refund.objects.filter(payment__in=payments))
    deleted["payments"] = _delete(payments)
    redemptions = CouponRedemption.objects.filter(order_id__in=order_ids)
    for row in redemptions.values("coupon").annotate(n=Count("id")):
        Coupon.objects.filter(pk=row["coupon"]).update(times_used=F("times_used") - row["n"])
    deleted["coupon_redemptions"] = _delete(redemptions)
    deleted["order_items"] = _delete(OrderItem.objects.filter(order_id__in=order_ids))
    deleted["orders"] = _delete(Order.objects.filter(id__in=order_ids))
    deleted["stock_movements"] = _delete(StockMovement.objects.filter(product__in=products))
    _delete(CartItem.objects.filter(product__in=products))
    deleted["products"] = _delete(products)
    deleted["users"] = _delete(users)
    return deleted


def _delete(queryset) -> int:
    """Delete and return how many rows of the queryset's own model went."""
    return queryset.delete()[1].get(queryset.model._meta.label, 0)


def _last_sku_number() -> int:
    last = seeded_products().order_by("-sku").first()
    return int(last.sku[len(SEED_SKU_PREFIX) : len(SEED_SKU_PREFIX) + 7]) if last else 0


def _validated(*, users: int, products: int, orders: int, batch_size: int, mode: Mode | str) -> Mode:
    for name, value in (("users", users), ("products", products), ("orders", orders)):
        if not isinstance(value, int) or value < 0:
            raise SeedError(f"--{name} must be zero or more, not {value!r}")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise SeedError(f"--batch-size must be at least 1, not {batch_size!r}")
    try:
        return Mode(mode)
    except ValueError:
        raise SeedError(f"mode must be one of {', '.join(m.value for m in Mode)}, not {mode!r}") from None


def _as_of(as_of: datetime | None) -> datetime:
    if as_of is None:
        return timezone.now().astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return as_of if timezone.is_aware(as_of) else as_of.replace(tzinfo=UTC)


class _Timer:
    def __init__(self, result: SeedResult):
        self.result = result

    @contextmanager
    def __call__(self, step: str):
        started = time.perf_counter()
        try:
            yield
        finally:
            self.result.seconds[step] = round(time.perf_counter() - started, 3)
