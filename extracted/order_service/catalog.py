"""What the Order service needs to know about products, asked of the Product service (it owns them).

`product_get(id)` reads `PRODUCT_SERVICE_URL/api/v1/catalog/products/<id>` (the catalog's public read
contract; an inactive or unknown product is None, as the monolith hides it from customers). Lines of one cart
are fetched concurrently. Unreachable or 5xx: 503 `catalog_unavailable` (the client may retry; nothing was
written).
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from decimal import Decimal

import requests
from django.conf import settings

from contracts.errors import ApplicationError

_local = threading.local()
_pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="catalog")


@dataclass(frozen=True)
class ProductFacts:
    id: int
    sku: str
    name: str
    price: Decimal
    currency: str
    stock: int
    weight_grams: int
    is_active: bool


def catalog_unavailable(detail: str) -> ApplicationError:
    return ApplicationError(
        "catalog_unavailable",
        "The product catalog could not be reached; nothing was changed, retry in a moment",
        extra={"detail": detail[:200]},
        status=503,
    )


def _session() -> requests.Session:
    session = getattr(_local, "session", None)
    if session is None:
        session = _local.session = requests.Session()
    return session


def product_get(product_id: int) -> ProductFacts | None:
    url = f"{settings.PRODUCT_SERVICE_URL.rstrip('/')}/api/v1/catalog/products/{product_id}"
    try:
        response = _session().get(url, timeout=(1.0, settings.ORDER_CATALOG_TIMEOUT))
    except requests.RequestException as exc:
        raise catalog_unavailable(f"{type(exc).__name__}: {exc}") from exc
    if response.status_code == 404:
        return None
    if response.status_code != 200:
        raise catalog_unavailable(f"the Product service answered {response.status_code}")
    try:
        doc = response.json()
        return ProductFacts(
            id=int(doc["id"]),
            sku=str(doc["sku"]),
            name=str(doc["name"]),
            price=Decimal(doc["price"]),
            currency=str(doc["currency"]),
            stock=int(doc["stock"]),
            weight_grams=int(doc["weight_grams"]),
            is_active=bool(doc["is_active"]),
        )
    except (ValueError, KeyError, TypeError, ArithmeticError) as exc:
        raise catalog_unavailable(f"unexpected product document: {exc}") from exc


def products_get(product_ids: list[int]) -> dict[int, ProductFacts | None]:
    """Several products at once (concurrent requests)."""
    unique = sorted(set(product_ids))
    if len(unique) <= 1:
        return {pid: product_get(pid) for pid in unique}
    return dict(zip(unique, _pool.map(product_get, unique), strict=True))
