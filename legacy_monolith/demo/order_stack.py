"""A whole orders stack for cross-process tests, drills and benchmarks: the monolith (gunicorn) and the
sandbox on a throwaway database, a RabbitMQ virtual host of its own, and the Order service with all its
processes (order_service.py) reading products from the monolith's v1 catalog and paying and reserving
through the monolith's internal endpoints. Plus customers with legacy API tokens."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import requests

from .order_service import OrderService, monolith_shipping_rules, running_order_service
from .payments import PaymentService, running_payment_service
from .processes import manage
from .services import rabbitmq_vhost
from .stack import Stack, running_stack

MAKE_TOKENS = """
import secrets
from datetime import timedelta
from django.utils import timezone
from legacy_monolith.accounts.authentication import token_hash
from legacy_monolith.accounts.models import ApiToken, Role, User
for user in User.objects.filter(role=Role.CUSTOMER, is_active=True).order_by("id")[:{count}]:
    key = secrets.token_urlsafe(24)
    ApiToken.objects.create(user=user, name="orders-e2e", key_prefix=key[:8], key_hash=token_hash(key),
                            expires_at=timezone.now() + timedelta(hours=4))
    print("TOKEN", user.id, key)
"""
PRODUCTS = """
from legacy_monolith.catalog.models import Product
products = Product.objects.filter(is_active=True, stock__gte={min_stock}, weight_grams__lt=900)
chosen = list(products.order_by("id")[:{count}])
if {restock}:
    Product.objects.filter(pk__in=[p.pk for p in chosen]).update(stock={restock})
for p in Product.objects.filter(pk__in=[p.pk for p in chosen]).order_by("id"):
    print("PRODUCT", p.id, p.stock, p.price)
"""
SHIPPING = {
    "name": "Ada Lovelace",
    "line1": "1 rue de la Paix",
    "city": "Paris",
    "postal_code": "75001",
    "country": "FR",
}
APPROVED = "4242424242424242"
DECLINED = "4000000000000002"


@dataclass
class Customer:
    user_id: int
    token: str

    def session(self, base_url: str) -> requests.Session:
        session = requests.Session()
        session.headers["Authorization"] = f"Token {self.token}"
        session.base_url = base_url  # type: ignore[attr-defined]
        return session


@dataclass
class OrdersStack:
    stack: Stack
    orders: OrderService
    broker_url: str
    customers: list[Customer]
    products: list[tuple[int, int, str]]  # (id, stock, price)
    payments: PaymentService | None = None  # with_payment_service=True

    def shell(self, code: str) -> str:
        return manage("shell", "-c", code, env=self.stack.env).stdout


def checkout_body(number: str = APPROVED, *, coupon: str | None = None, gateway: str = "cardinal") -> dict:
    card = {"number": number, "exp_month": 12, "exp_year": 2030, "cvc": "123", "holder": "Ada Lovelace"}
    return {"shipping": SHIPPING, "coupon_code": coupon, "payment": {"gateway": gateway, "card": card}}


@contextlib.contextmanager
def running_orders_stack(
    *,
    database_url: str,
    var_dir: Path,
    customers: int = 5,
    seed_products: int = 60,
    order_env: dict | None = None,
    restock: int = 0,
    order_workers: int = 2,
    order_threads: int = 4,
    monolith_env: dict[str, str] | None = None,
    with_payment_service: bool = False,
    payment_env: dict[str, str] | None = None,
    broker_url: str | None = None,
    saga_consumers: tuple[int, int] = (1, 1),
) -> Iterator[OrdersStack]:
    """`restock`: give the chosen products this stock level (0: keep the seeded one).
    `broker_url`: the services' RabbitMQ (a node the caller stops and starts in a drill); default, a vhost of
    the shared broker, made and deleted here.
    `with_payment_service`: the Payment service too (worker, beat, relay; same sandbox and broker), started
    before the Order service, which gets its PAYMENT_SERVICE_URL (route.payments.charge picks it per user).
    `saga_consumers`: copies of the saga's (participant, orchestrator) consumers."""
    seed = ("--users", str(customers + 3), "--products", str(seed_products), "--orders", "0", "--seed", "11")
    with (
        running_stack(
            database_url=database_url, var_dir=var_dir / "monolith", seed_args=seed, extra_env=monolith_env
        ) as stack,
        contextlib.nullcontext(broker_url) if broker_url else rabbitmq_vhost() as broker_url,
        _payment_service(with_payment_service, var_dir, stack, broker_url, payment_env) as payments,
        running_order_service(
            var_dir=var_dir / "orders",
            broker_url=broker_url,
            monolith_url=stack.monolith_url,
            env={**({"PAYMENT_SERVICE_URL": payments.url} if payments else {}), **(order_env or {})},
            workers=order_workers,
            threads=order_threads,
            participants=saga_consumers[0],
            orchestrators=saga_consumers[1],
        ) as orders,
    ):
        orders.import_rows("shipping_rules", {"rules": monolith_shipping_rules(stack.env)})
        # The monolith's consumer of the service's order events declares its queue before any order exists
        # (events published to an exchange with no bound queue are dropped by RabbitMQ).
        sync_env = {**stack.env, "BROKER_URL": broker_url, "ORDER_SERVICE_URL": orders.url}
        manage("sync", "orders", "follow", "--once", "--interval", "0.2", env=sync_env)
        out = manage("shell", "-c", MAKE_TOKENS.format(count=customers), env=stack.env).stdout
        people = [
            Customer(int(uid), key)
            for _, uid, key in (line.split() for line in out.splitlines() if line.startswith("TOKEN"))
        ]
        out = manage(
            "shell", "-c", PRODUCTS.format(min_stock=20, count=20, restock=restock), env=stack.env
        ).stdout
        products = [
            (int(pid), int(stock), price)
            for _, pid, stock, price in (row.split() for row in out.splitlines() if row.startswith("PRODUCT"))
        ]
        yield OrdersStack(stack, orders, broker_url, people, products, payments)


def _payment_service(wanted: bool, var_dir: Path, stack: Stack, broker_url: str, env: dict | None):
    if not wanted:
        return contextlib.nullcontext(None)
    return running_payment_service(
        var_dir=var_dir / "payments",
        sandbox_url=stack.sandbox_url,
        broker_url=broker_url,
        env={"MONOLITH_URL": stack.monolith_url, **(env or {})},
        beat=True,
        relay=True,
    )
