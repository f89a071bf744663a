"""The product contract: the documents the Product service stores and the monolith's translators
produce, their strict validation, and the canonical form `sync products verify` compares.

A product document is what the monolith's /api/v1 renders for a product, minus the derived `in_stock`,
plus the monolith's `sync_version` as `version`. Validation never coerces: a document either matches the
contract exactly or is refused with the offending field named.
"""

import math
import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from hashlib import blake2b
from typing import Any

import orjson

from contracts.errors import ApplicationError

# The fields a product document carries as the monolith's columns hold them (after the category).
PRODUCT_COLUMN_FIELDS = (
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
PRODUCT_FIELDS = ("id", "sku", "name", "slug", "description", "category", *PRODUCT_COLUMN_FIELDS, "version")
CATEGORY_REF_FIELDS = ("id", "slug", "name")
CATEGORY_FIELDS = ("id", "name", "slug", "parent_id", "version")
TOMBSTONE_FIELDS = ("id", "version")

# The monolith's column limits (legacy_monolith/catalog/models.py and services/validation.py).
MAX_ID = 2**63 - 1  # bigint primary keys and sync_version
MAX_INT32 = 2**31 - 1  # stock (IntegerField), weight_grams (PositiveIntegerField)
MAX_SKU_LENGTH = 64
MAX_PRODUCT_NAME_LENGTH = 200
MAX_PRODUCT_SLUG_LENGTH = 220
MAX_CATEGORY_NAME_LENGTH = 120
MAX_CATEGORY_SLUG_LENGTH = 140
MAX_ATTRIBUTES = 50
MAX_ATTRIBUTE_VALUE_LENGTH = 200
MAX_IMAGE_URLS = 20
MAX_URL_LENGTH = 2048

# "12.34" exactly as DRF renders DecimalField(max_digits=10, decimal_places=2): no sign, no exponent,
# no leading zeros, always two decimals.
PRICE_PATTERN = re.compile(r"^(0|[1-9][0-9]{0,7})\.[0-9]{2}$")
# DRF's DateTimeField under USE_TZ/UTC: datetime.isoformat() with "+00:00" rendered as "Z"; the
# fraction appears only when the microseconds are not zero.
# (a real instant too: 2024-02-30 matches the pattern, and `_timestamp` refuses it)
TIMESTAMP_PATTERN = re.compile(
    r"^([0-9]{3}[1-9]|[0-9]{2}[1-9]0|[0-9][1-9]00|[1-9]000)-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
    r"T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{6})?Z$"
)
CURRENCY_PATTERN = re.compile(r"^[A-Z]{3}$")
ATTRIBUTE_KEY_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")

EMPTY_RANGE_DIGEST = blake2b(b"", digest_size=16).hexdigest()


class ContractError(ApplicationError):
    """A document does not match the contract (400 `invalid_document`). `field` is the dotted path of
    the offending value: `category.slug`, or `products[3].price` once a batch names the position."""

    def __init__(self, field: str, detail: str):
        super().__init__("invalid_document", f"{field}: {detail}", extra={"field": field})
        self.field = field
        self.detail = detail

    def under(self, prefix: str) -> "ContractError":
        """The same error with its field path nested under `prefix` (a list position, a wrapper key)."""
        return ContractError(f"{prefix}.{self.field}", self.detail)


def _check_keys(doc: Any, fields: tuple[str, ...], where: str) -> Mapping[str, Any]:
    if not isinstance(doc, Mapping):
        raise ContractError(where or "document", "must be a JSON object")
    unknown = sorted(str(key) for key in doc if key not in fields)
    if unknown:
        raise ContractError(_join(where, unknown[0]), "is not a field of the contract")
    missing = [name for name in fields if name not in doc]
    if missing:
        raise ContractError(_join(where, missing[0]), "is required")
    return doc


def _join(where: str, name: str) -> str:
    return f"{where}.{name}" if where else name


def _int(value: Any, field: str, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ContractError(field, "must be an integer")
    if not low <= value <= high:
        raise ContractError(field, f"must be between {low} and {high}")


def _str(value: Any, field: str, max_length: int | None, *, allow_blank: bool = False) -> None:
    if not isinstance(value, str):
        raise ContractError(field, "must be a string")
    if not allow_blank and not value:
        raise ContractError(field, "must not be empty")
    if max_length is not None and len(value) > max_length:
        raise ContractError(field, f"is longer than {max_length} characters")
    if "\x00" in value:
        raise ContractError(field, "must not contain NUL")


def _pattern(value: Any, field: str, pattern: re.Pattern, shape: str) -> None:
    if not isinstance(value, str) or not pattern.match(value):
        raise ContractError(field, f"must be {shape}")


def _timestamp(value: Any, field: str) -> None:
    shape = "an ISO 8601 UTC timestamp ending in Z"
    _pattern(value, field, TIMESTAMP_PATTERN, shape)
    try:
        datetime.fromisoformat(value[:-1])
    except ValueError:
        raise ContractError(field, f"must be {shape} (a real date)") from None


def _attributes(value: Any, field: str) -> None:
    if not isinstance(value, dict):
        raise ContractError(field, "must be a JSON object")
    if len(value) > MAX_ATTRIBUTES:
        raise ContractError(field, f"has more than {MAX_ATTRIBUTES} attributes")
    for key, item in value.items():
        if not isinstance(key, str) or not ATTRIBUTE_KEY_PATTERN.match(key):
            raise ContractError(
                f"{field}.{str(key)[:64]}", "attribute names are a letter then letters, digits, '_' or '-'"
            )
        if isinstance(item, bool | int):
            continue
        if isinstance(item, float) and math.isfinite(item):
            continue
        if isinstance(item, str) and len(item) <= MAX_ATTRIBUTE_VALUE_LENGTH and "\x00" not in item:
            continue
        raise ContractError(
            f"{field}.{key}",
            f"attribute values are strings (up to {MAX_ATTRIBUTE_VALUE_LENGTH}), finite numbers or booleans",
        )


def _image_urls(value: Any, field: str) -> None:
    if not isinstance(value, list):
        raise ContractError(field, "must be a list")
    if len(value) > MAX_IMAGE_URLS:
        raise ContractError(field, f"has more than {MAX_IMAGE_URLS} URLs")
    for index, url in enumerate(value):
        _str(url, f"{field}[{index}]", MAX_URL_LENGTH)


def validate_category_ref(ref: Any, where: str = "category") -> Mapping[str, Any]:
    """The `{id, slug, name}` a product document embeds."""
    _check_keys(ref, CATEGORY_REF_FIELDS, where)
    _int(ref["id"], f"{where}.id", 1, MAX_ID)
    _str(ref["slug"], f"{where}.slug", MAX_CATEGORY_SLUG_LENGTH)
    _str(ref["name"], f"{where}.name", MAX_CATEGORY_NAME_LENGTH)
    return ref


def validate_product(doc: Any) -> dict[str, Any]:
    """The product document itself, unchanged, when it matches the contract; else ContractError."""
    _check_keys(doc, PRODUCT_FIELDS, "")
    _int(doc["id"], "id", 1, MAX_ID)
    _str(doc["sku"], "sku", MAX_SKU_LENGTH)
    _str(doc["name"], "name", MAX_PRODUCT_NAME_LENGTH)
    _str(doc["slug"], "slug", MAX_PRODUCT_SLUG_LENGTH, allow_blank=True)
    _str(doc["description"], "description", None, allow_blank=True)
    validate_category_ref(doc["category"])
    _pattern(doc["price"], "price", PRICE_PATTERN, 'a decimal string with 2 places, e.g. "12.34"')
    _pattern(doc["currency"], "currency", CURRENCY_PATTERN, "a 3-letter ISO 4217 code")
    _attributes(doc["attributes"], "attributes")
    _image_urls(doc["image_urls"], "image_urls")
    _int(doc["stock"], "stock", 0, MAX_INT32)
    _int(doc["weight_grams"], "weight_grams", 0, MAX_INT32)
    if not isinstance(doc["is_active"], bool):
        raise ContractError("is_active", "must be a boolean")
    for name in ("created_at", "updated_at"):
        _timestamp(doc[name], name)
    _int(doc["version"], "version", 0, MAX_ID)
    return doc  # type: ignore[return-value]


def validate_category(doc: Any) -> dict[str, Any]:
    """A category document `{id, name, slug, parent_id, version}`."""
    _check_keys(doc, CATEGORY_FIELDS, "")
    _int(doc["id"], "id", 1, MAX_ID)
    _str(doc["name"], "name", MAX_CATEGORY_NAME_LENGTH)
    _str(doc["slug"], "slug", MAX_CATEGORY_SLUG_LENGTH)
    if doc["parent_id"] is not None:
        _int(doc["parent_id"], "parent_id", 1, MAX_ID)
        if doc["parent_id"] == doc["id"]:
            raise ContractError("parent_id", "a category cannot be its own parent")
    _int(doc["version"], "version", 0, MAX_ID)
    return doc  # type: ignore[return-value]


def validate_tombstone(doc: Any) -> dict[str, Any]:
    """A deletion `{id, version}`: the product's version at the moment it was deleted."""
    _check_keys(doc, TOMBSTONE_FIELDS, "")
    _int(doc["id"], "id", 1, MAX_ID)
    _int(doc["version"], "version", 0, MAX_ID)
    return doc  # type: ignore[return-value]


def validate_many(docs: Any, validate, where: str) -> list[dict[str, Any]]:
    """Every document of a batch through `validate`; errors name the position (`products[3].price`)."""
    if not isinstance(docs, list):
        raise ContractError(where, "must be a list")
    for index, doc in enumerate(docs):
        try:
            validate(doc)
        except ContractError as exc:
            raise exc.under(f"{where}[{index}]") from None
    return docs


def canonical_bytes(doc: Mapping[str, Any]) -> bytes:
    """The document without `version`, as sorted-key compact JSON: equal content, equal bytes."""
    return orjson.dumps(
        {key: value for key, value in doc.items() if key != "version"}, option=orjson.OPT_SORT_KEYS
    )


def doc_digest(doc: Mapping[str, Any]) -> str:
    return blake2b(canonical_bytes(doc), digest_size=16).hexdigest()


def range_digest(pairs: Iterable[tuple[int, str]]) -> str:
    """The digest of a range from its `(id, doc_digest)` pairs in ascending id order."""
    hasher = blake2b(digest_size=16)
    for product_id, digest in pairs:
        hasher.update(f"{product_id}:{digest}\n".encode())
    return hasher.hexdigest()


# --- catalog writes made at the Product service (route `catalog.write`), flowing back to the monolith ---

# Events the Product service publishes for its own writes (never the monolith relay's
# catalog.product.upserted, which the service itself consumes): the monolith's `sync products receive`
# applies them to its tables, so a rollback of catalog.write loses nothing.
PRODUCT_SAVED = "catalog.product.saved"
CATEGORY_SAVED = "catalog.category.saved"
STOCK_MOVED = "catalog.stock.moved"
SERVICE_WRITE_EVENTS = (CATEGORY_SAVED, PRODUCT_SAVED, STOCK_MOVED)
# Products, categories and stock movements created at the Product service take ids from this block on
# (CATALOG_ID_OFFSET in both processes' settings): the monolith's sequences never reach it, so an id
# names one record on both sides and tells its origin.
DEFAULT_CATALOG_ID_OFFSET = 10**12
MOVEMENT_FIELDS = (
    "id",
    "product_id",
    "delta",
    "balance_after",
    "reason",
    "reference",
    "actor_id",
    "created_at",
)
MOVEMENT_REASONS = ("restock", "adjustment", "return", "reservation", "release", "initial")


def validate_movement(doc: Any) -> dict[str, Any]:
    """A stock movement `{id, product_id, delta, balance_after, reason, reference, actor_id, created_at}`."""
    _check_keys(doc, MOVEMENT_FIELDS, "")
    _int(doc["id"], "id", 1, MAX_ID)
    _int(doc["product_id"], "product_id", 1, MAX_ID)
    _int(doc["delta"], "delta", -MAX_INT32, MAX_INT32)
    _int(doc["balance_after"], "balance_after", 0, MAX_INT32)
    if doc["reason"] not in MOVEMENT_REASONS:
        raise ContractError("reason", f"must be one of {', '.join(MOVEMENT_REASONS)}")
    _str(doc["reference"], "reference", 64, allow_blank=True)
    if doc["actor_id"] is not None:
        _int(doc["actor_id"], "actor_id", 1, MAX_ID)
    _timestamp(doc["created_at"], "created_at")
    return doc  # type: ignore[return-value]
