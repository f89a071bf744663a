"""The catalog's business rules on product and category fields, one copy for the monolith
(legacy_monolith/catalog/services) and the Product service (extracted/product_service/writes.py), which
serve the same /api/v1/catalog writes while route `catalog.write` moves them: the same checks, codes and
messages on both sides (tests/e2e/test_catalog_writes_contract.py)."""

import math
import re
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlsplit

from django.utils.text import slugify

from contracts.errors import ApplicationError, ConflictError

MAX_STOCK = 2**31 - 1  # the stock column is a 32-bit integer
MAX_PRICE = Decimal("99999999.99")  # max_digits=10, decimal_places=2
MAX_ATTRIBUTES = 50
MAX_ATTRIBUTE_VALUE_LENGTH = 200
MAX_IMAGE_URLS = 20
MAX_URL_LENGTH = 2048

SKU_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
# Names start with a letter: on PostgreSQL a key transform reads an all-digit name as an array index.
ATTRIBUTE_KEY_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")
CURRENCY_PATTERN = re.compile(r"^[A-Z]{3}$")

# The /api/v1 product listing (chassis.catalog_filters parses it); every ordering ends with an id tiebreak.
ORDERINGS = ("id", "price", "-price", "name", "-name", "created_at", "-created_at", "stock", "-stock")
ATTRIBUTE_PARAM_PREFIX = "attr."
MAX_FILTER_VALUE_LENGTH = 200
MAX_CATEGORY_SLUG_LENGTH = 140


def invalid(code: str, field: str, message: str, **extra: Any) -> ApplicationError:
    return ApplicationError(code, message, extra={"field": field, **extra})


def clean_sku(sku: str) -> str:
    if not isinstance(sku, str) or not SKU_PATTERN.match(sku.strip()):
        raise invalid(
            "invalid_sku", "sku", "A SKU is 1 to 64 letters, digits, '.', '_' or '-', starting alphanumeric"
        )
    return sku.strip()


def clean_name(name: str) -> str:
    if not isinstance(name, str) or not name.strip() or len(name.strip()) > 200:
        raise invalid("invalid_name", "name", "A product name is 1 to 200 characters")
    return name.strip()


def clean_price(price: Any) -> Decimal:
    try:
        value = Decimal(str(price)) if not isinstance(price, Decimal) else price
    except (InvalidOperation, ValueError) as exc:
        raise invalid("invalid_price", "price", "The price is not a number") from exc
    if not value.is_finite() or value < 0 or value > MAX_PRICE or value != value.quantize(Decimal("0.01")):
        raise invalid(
            "invalid_price", "price", f"A price is between 0 and {MAX_PRICE} with at most 2 decimal places"
        )
    return value.quantize(Decimal("0.01"))


def clean_currency(currency: str) -> str:
    if not isinstance(currency, str) or not CURRENCY_PATTERN.match(currency):
        raise invalid("invalid_currency", "currency", "A currency is a 3-letter ISO 4217 code, e.g. EUR")
    return currency


def _is_scalar(value: Any) -> bool:
    if isinstance(value, bool | int):
        return True
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, str):
        return len(value) <= MAX_ATTRIBUTE_VALUE_LENGTH and "\x00" not in value
    return False


def clean_attributes(attributes: Any) -> dict[str, Any]:
    """A flat JSON object: names of letters, digits, '_' or '-' starting with a letter; values string,
    finite number or boolean."""
    if not isinstance(attributes, dict):
        raise invalid("invalid_attributes", "attributes", "Attributes must be a JSON object")
    if len(attributes) > MAX_ATTRIBUTES:
        raise invalid("invalid_attributes", "attributes", f"At most {MAX_ATTRIBUTES} attributes")
    for key, value in attributes.items():
        if not isinstance(key, str) or not ATTRIBUTE_KEY_PATTERN.match(key):
            raise invalid(
                "invalid_attributes",
                "attributes",
                "Attribute names are 1 to 64 letters, digits, '_' or '-', starting with a letter",
                key=str(key)[:64],
            )
        if not _is_scalar(value):
            raise invalid(
                "invalid_attributes",
                "attributes",
                f"Attribute values are strings (up to {MAX_ATTRIBUTE_VALUE_LENGTH} characters), "
                "finite numbers or booleans",
                key=key,
            )
    return dict(attributes)


def clean_image_urls(image_urls: Any) -> list[str]:
    if not isinstance(image_urls, list) or len(image_urls) > MAX_IMAGE_URLS:
        raise invalid(
            "invalid_image_urls", "image_urls", f"Image URLs are a list of at most {MAX_IMAGE_URLS}"
        )
    for index, url in enumerate(image_urls):
        parts = urlsplit(url) if isinstance(url, str) and len(url) <= MAX_URL_LENGTH else None
        if (
            parts is None
            or parts.scheme not in ("http", "https")
            or not parts.hostname
            or any(ch.isspace() or ch == "\x00" for ch in url)
        ):
            raise invalid(
                "invalid_image_urls", "image_urls", "Each image URL must be an http(s) URL", index=index
            )
    return list(image_urls)


def clean_count(value: Any, field: str, code: str) -> int:
    """A non-negative integer that fits the 32-bit column (stock, weight)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_STOCK:
        raise invalid(code, field, f"{field} must be an integer between 0 and {MAX_STOCK}")
    return value


# Stock movement reasons (the monolith's StockMovement.Reason values); staff post only the first three.
STAFF_STOCK_REASONS = ("restock", "adjustment", "return")
STOCK_REASONS = (*STAFF_STOCK_REASONS, "reservation", "release", "initial")

# The fields a staff PATCH may change (never `stock`: it changes only through a stock adjustment).
UPDATABLE_FIELDS = (
    "sku",
    "name",
    "slug",
    "description",
    "category_id",
    "price",
    "currency",
    "attributes",
    "image_urls",
    "weight_grams",
    "is_active",
)


def product_slug(slug: str, *, name: str, sku: str) -> str:
    """The given slug, checked; or one made from the name (or the SKU)."""
    if slug:
        if len(slug) > 220 or slug != slugify(slug):
            raise invalid("invalid_slug", "slug", "A slug is 1 to 220 lowercase letters, digits and hyphens")
        return slug
    return slugify(name)[:220] or slugify(sku)[:220] or sku.lower()


def clean_category(name: str, slug: str) -> tuple[str, str]:
    """A category's (name, slug): the slug defaults to the slugified name."""
    name = (name or "").strip()
    if not name or len(name) > 120:
        raise ApplicationError(
            "invalid_name", "A category name is 1 to 120 characters", extra={"field": "name"}
        )
    slug = slug or slugify(name)[:140]
    if not slug or len(slug) > 140 or slug != slugify(slug):
        raise ApplicationError(
            "invalid_slug",
            "A slug is 1 to 140 lowercase letters, digits and hyphens",
            extra={"field": "slug"},
        )
    return name, slug


def check_update_fields(data: dict[str, Any]) -> None:
    """A PATCH body's field names: `stock` is 400 stock_not_editable, others not updatable 400
    unknown_fields."""
    if "stock" in data:
        raise ApplicationError(
            "stock_not_editable",
            "Stock cannot be set by an update; post a stock adjustment instead",
            extra={"field": "stock"},
        )
    unknown = sorted(set(data) - set(UPDATABLE_FIELDS))
    if unknown:
        raise ApplicationError("unknown_fields", "These fields cannot be updated", extra={"fields": unknown})


def check_stock_delta(delta: Any, reason: str) -> None:
    """A staff adjustment: a non-zero integer delta and a known reason."""
    if isinstance(delta, bool) or not isinstance(delta, int) or delta == 0:
        raise ApplicationError(
            "invalid_delta", "A stock adjustment needs a non-zero integer delta", extra={"delta": delta}
        )
    check_stock_reason(reason)


def check_stock_reason(reason: str) -> None:
    if reason not in STOCK_REASONS:
        raise ApplicationError(
            "invalid_stock_reason",
            f"Unknown stock movement reason {reason!r}",
            extra={"reason": reason, "allowed": list(STOCK_REASONS)},
        )


def check_stock_limit(product_id: int, stock: int, delta: int) -> None:
    """Refuse a change that would leave the level below zero (409) or above the column (400)."""
    if stock + delta < 0:
        raise ConflictError(
            "insufficient_stock",
            f"Stock of product {product_id} is {stock}; a change of {delta} would make it negative",
            extra={"product_id": product_id, "stock": stock, "delta": delta},
        )
    check_stock_ceiling(product_id, stock, delta)


def check_stock_ceiling(product_id: int, stock: int, delta: int) -> None:
    if stock + delta > MAX_STOCK:
        raise ApplicationError(
            "stock_limit_exceeded",
            f"Stock of product {product_id} cannot exceed {MAX_STOCK}",
            extra={"product_id": product_id, "stock": stock, "delta": delta},
        )


def sku_exists(sku: str) -> ConflictError:
    return ConflictError("sku_exists", f"A product with SKU {sku!r} exists", extra={"sku": sku})


def category_exists(slug: str) -> ConflictError:
    return ConflictError("category_exists", f"A category with slug {slug!r} exists", extra={"slug": slug})


def category_not_found(category_id: Any, *, parent: bool = False) -> ApplicationError:
    if parent:
        return ApplicationError(
            "category_not_found", f"Parent category {category_id} does not exist", extra={"id": category_id}
        )
    return ApplicationError(
        "category_not_found",
        f"Category {category_id} does not exist",
        extra={"field": "category_id", "id": category_id},
    )
