"""Business rules on product fields, shared by create and update (and by any in-process caller)."""

import math
import re
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlsplit

from legacy_monolith.core.errors import ApplicationError

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
