"""Staff catalog writes served here while route `catalog.write` moves them off the monolith: category
create, product create / partial update / deactivation, stock adjustments with their movement history.
The rules, codes and messages are the monolith's (chassis.catalog_rules); the answers its v1 contract.

Ownership and the way back (the monolith stays complete, so a rollback to 0% loses nothing):
- a record created here takes its id from CATALOG_ID_OFFSET on (contracts.product), a block the
  monolith's sequences never reach: one id names it on both sides and tells its origin;
- every write publishes its document through the chassis outbox in the write's transaction
  (`catalog.category.saved`, `catalog.product.saved`, `catalog.stock.moved`); the monolith's
  `sync products receive` applies them to its tables (migrations_data/products/receive.py);
- the monolith's triggers version that apply like any write and its relay sends the product back here as
  `catalog.product.upserted`, which the store applies by the version rule: the monolith orders both
  sides' writes, and both converge on its order (a document from the monolith always carries a newer
  version than the one it answers, see `_next_version`). Loops stop there: imports publish nothing.
- Versions: an edit here takes the stored version + 1; the monolith's counter gives its apply of that edit
  a version at least as high, so its echo never goes backwards past the edit.

On the ORM store the document, the movement, the id counter and the outbox row commit in one transaction;
on MongoDB the document is written first and the outbox row commits right after (a crash in between loses
that event; `sync products verify` finds the difference). The id counter's row lock serialises the SKU
check of creates and SKU changes here; a create racing one on the monolith with the same SKU is refused
when it reaches the other side (the receive dead-letters it and verify reports the id).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from chassis import catalog_rules as rules
from chassis.outbox.writer import outbox_write
from contracts import product as contract
from contracts.errors import NotFoundError

from .models import CatalogIdCounter, CatalogStockMovement
from .selectors import catalog_store
from .services import _invalidate_after_commit
from .store.port import InsufficientStock, ProductNotFound

ID_KINDS = ("product", "category", "movement")


def now_text() -> str:
    """Now as the contract's timestamp (DRF's rendering: microseconds only when not zero, "Z")."""
    text = timezone.now().isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _lock(kind: str) -> CatalogIdCounter:
    return CatalogIdCounter.objects.select_for_update().get(name=kind)


def _next_id(kind: str) -> int:
    """The next public id of this kind (CATALOG_ID_OFFSET + n); the caller's transaction holds the lock."""
    _lock(kind)
    CatalogIdCounter.objects.filter(name=kind).update(last=F("last") + 1)
    return settings.CATALOG_ID_OFFSET + CatalogIdCounter.objects.get(name=kind).last


def _next_version(doc: dict[str, Any]) -> int:
    return doc["version"] + 1


def _price(value: Any) -> str:
    return f"{rules.clean_price(value):.2f}"


def _category_ref(category_id: Any) -> dict[str, Any]:
    for category in catalog_store().list_categories():
        if isinstance(category_id, int) and category["id"] == category_id:
            return {"id": category["id"], "slug": category["slug"], "name": category["name"]}
    raise rules.category_not_found(category_id)


def _save(doc: dict[str, Any]) -> None:
    """Store this service's own version of a product (its stock kept) and publish it."""
    catalog_store().upsert_products([doc], preserve_stock=True)
    outbox_write(contract.PRODUCT_SAVED, doc)
    _invalidate_after_commit({doc["id"]: "write"})


# --- categories -------------------------------------------------------------------------------------


def category_create(*, name: str, slug: str = "", parent_id: int | None = None) -> dict[str, Any]:
    """A new category (409 category_exists for a taken slug, as on the monolith)."""
    name, slug = rules.clean_category(name, slug)
    store = catalog_store()
    if parent_id is not None and all(c["id"] != parent_id for c in store.list_categories()):
        raise rules.category_not_found(parent_id, parent=True)
    with transaction.atomic():
        _lock("category")
        if any(c["slug"] == slug for c in store.list_categories()):
            raise rules.category_exists(slug)
        doc = {"id": _next_id("category"), "name": name, "slug": slug, "parent_id": parent_id, "version": 0}
        store.upsert_categories([contract.validate_category(doc)])
        outbox_write(contract.CATEGORY_SAVED, doc)
        _invalidate_after_commit({})
    return doc


# --- products ---------------------------------------------------------------------------------------


def product_create(
    *,
    sku: str,
    name: str,
    category_id: int,
    price: Decimal | str,
    slug: str = "",
    description: str = "",
    currency: str = "EUR",
    attributes: dict[str, Any] | None = None,
    image_urls: list[str] | None = None,
    stock: int = 0,
    weight_grams: int = 0,
    is_active: bool = True,
    actor_id: int | None = None,
) -> dict[str, Any]:
    """A new product; a non-zero initial stock is recorded as an `initial` movement (409 sku_exists for
    a taken SKU, so a replayed create answers 409 as on the monolith)."""
    sku, name = rules.clean_sku(sku), rules.clean_name(name)
    fields = {
        "sku": sku,
        "name": name,
        "slug": rules.product_slug(slug, name=name, sku=sku),
        "description": description or "",
        "category": _category_ref(category_id),
        "price": _price(price),
        "currency": rules.clean_currency(currency),
        "attributes": rules.clean_attributes({} if attributes is None else attributes),
        "image_urls": rules.clean_image_urls([] if image_urls is None else image_urls),
        "stock": rules.clean_count(stock, "stock", "invalid_stock"),
        "weight_grams": rules.clean_count(weight_grams, "weight_grams", "invalid_weight"),
        "is_active": bool(is_active),
    }
    store = catalog_store()
    with transaction.atomic():
        _lock("product")
        if store.product_id_by_sku(sku) is not None:
            raise rules.sku_exists(sku)
        now = now_text()
        doc = {"id": _next_id("product"), **fields, "created_at": now, "updated_at": now, "version": 0}
        store.upsert_products([contract.validate_product(doc)])
        outbox_write(contract.PRODUCT_SAVED, doc)
        if doc["stock"]:
            _movement(
                _next_id("movement"), doc["id"], doc["stock"], doc["stock"], "initial", "", actor_id, now
            )
        _invalidate_after_commit({doc["id"]: "write"})
    return doc


_CLEANERS = {
    "sku": rules.clean_sku,
    "name": rules.clean_name,
    "price": _price,
    "currency": rules.clean_currency,
    "attributes": rules.clean_attributes,
    "image_urls": rules.clean_image_urls,
    "weight_grams": lambda value: rules.clean_count(value, "weight_grams", "invalid_weight"),
    "description": lambda value: value or "",
    "is_active": bool,
}


def product_update(*, product_id: int, data: dict[str, Any]) -> dict[str, Any]:
    """Change the given fields only (PATCH, as on the monolith: the same values again change nothing;
    `stock` is 400 stock_not_editable)."""
    rules.check_update_fields(data)
    store = catalog_store()
    with transaction.atomic():
        _lock("product")
        doc = store.get_product(product_id, include_inactive=True)
        new = dict(doc)
        for field, raw in data.items():
            if field == "category_id":
                ref = _category_ref(raw)
                if ref["id"] != new["category"]["id"]:
                    new["category"] = ref
            elif field == "slug":
                new["slug"] = (
                    rules.product_slug(raw, name=new["name"], sku=new["sku"]) if raw else new["slug"]
                )
            else:
                new[field] = _CLEANERS[field](raw)
        if new["sku"] != doc["sku"] and store.product_id_by_sku(new["sku"]) not in (None, product_id):
            raise rules.sku_exists(new["sku"])
        if new != doc:
            new.update(updated_at=now_text(), version=_next_version(doc))
            _save(contract.validate_product(new))
    return store.get_product(product_id, include_inactive=True) if new != doc else doc


def product_deactivate(*, product_id: int) -> None:
    """Take a product off sale (staff DELETE); repeating it changes nothing."""
    store = catalog_store()
    with transaction.atomic():
        _lock("product")
        doc = store.get_product(product_id, include_inactive=True)
        if doc["is_active"]:
            _save({**doc, "is_active": False, "updated_at": now_text(), "version": _next_version(doc)})


# --- stock ------------------------------------------------------------------------------------------


def _movement(
    movement_id: int,
    product_id: int,
    delta: int,
    balance_after: int,
    reason: str,
    reference: str,
    actor_id: int | None,
    created_at: str,
) -> dict[str, Any]:
    """Record a movement here and publish it (the caller's transaction)."""
    movement = {
        "id": movement_id,
        "product_id": product_id,
        "delta": delta,
        "balance_after": balance_after,
        "reason": reason,
        "reference": reference[:64],
        "actor_id": actor_id,
        "created_at": created_at,
    }
    CatalogStockMovement.objects.create(**{**movement, "created_at": datetime.fromisoformat(created_at)})
    outbox_write(contract.STOCK_MOVED, contract.validate_movement(movement))
    return movement


def stock_adjust(
    *, product_id: int, delta: int, reason: str, reference: str = "", actor_id: int | None = None
) -> dict[str, Any]:
    """Staff change of the level by `delta`, never below zero (409 insufficient_stock); one movement.
    Not idempotent by nature (a delta is relative), as on the monolith: a client that retries reads the
    history, where its reference shows whether the first attempt landed. The store applies it once per
    movement id."""
    rules.check_stock_delta(delta, reason)
    store = catalog_store()
    with transaction.atomic():
        doc = store.get_product(product_id, include_inactive=True)
        rules.check_stock_limit(product_id, doc["stock"], delta)
        movement_id = _next_id("movement")
        try:
            level = store.stock_adjust(product_id, delta, reference=f"movement-{movement_id}")
        except InsufficientStock as exc:  # changed since the read: the monolith's answer for the new level
            rules.check_stock_limit(product_id, exc.extra["stock"], delta)
            raise
        _movement(movement_id, product_id, delta, level, reason, reference, actor_id, now_text())
        _invalidate_after_commit({product_id: "stock"})
    return store.get_product(product_id, include_inactive=True)


def movements_import(*, movements: list[dict[str, Any]]) -> int:
    """The monolith's stock movements into this history, once per id (sync): how many were new. The levels
    are not touched: they travel inside the product documents (and once this service owns stock, they are
    its own)."""
    ids = [doc["id"] for doc in movements]
    known = set(CatalogStockMovement.objects.filter(id__in=ids).values_list("id", flat=True))
    new = [
        CatalogStockMovement(**{**doc, "created_at": datetime.fromisoformat(doc["created_at"])})
        for doc in movements
        if doc["id"] not in known
    ]
    CatalogStockMovement.objects.bulk_create(new, ignore_conflicts=True)
    return len({movement.id for movement in new})


def movement_contract_document(movement: CatalogStockMovement) -> dict[str, Any]:
    """A movement as the contract's document (contracts.product.validate_movement): what verify digests."""
    return {"product_id": movement.product_id, **movement_document(movement)}


def movement_digests(lo: int, hi: int) -> dict[int, str]:
    """{id: digest} of the movements with lo <= id < hi (`sync products verify`'s movements check)."""
    rows = CatalogStockMovement.objects.filter(id__gte=lo, id__lt=hi).order_by("id")
    return {row.id: contract.doc_digest(movement_contract_document(row)) for row in rows.iterator()}


def movement_checksums(ranges: list[tuple[int, int]]) -> list[tuple[int, int, int, str]]:
    """(lo, hi, count, range digest) per range."""
    out = []
    for lo, hi in ranges:
        digests = movement_digests(lo, hi)
        out.append((lo, hi, len(digests), contract.range_digest(sorted(digests.items()))))
    return out


def movement_list(*, product_id: int):
    """A product's movements made here, newest first (404 product_not_found for an unknown product)."""
    try:
        catalog_store().get_product(product_id, include_inactive=True)
    except ProductNotFound:
        raise NotFoundError("product", product_id) from None
    return CatalogStockMovement.objects.filter(product_id=product_id).order_by("-created_at", "-id")


def movement_document(movement: CatalogStockMovement) -> dict[str, Any]:
    text = movement.created_at.astimezone(UTC).isoformat()
    return {
        "id": movement.id,
        "delta": movement.delta,
        "balance_after": movement.balance_after,
        "reason": movement.reason,
        "reference": movement.reference,
        "actor_id": movement.actor_id,
        "created_at": text[:-6] + "Z" if text.endswith("+00:00") else text,
    }
