"""`sync products receive`: the Product service's own catalog writes (route catalog.write) applied to the
monolith's tables, so the monolith stays complete and a rollback of catalog.write to 0% loses nothing.

Events (contracts.product), in the order the service's outbox wrote them:
- `catalog.category.saved`: a category created there, inserted with its id (once: an id already here is
  left alone; categories are only ever created through the API).
- `catalog.product.saved`: the service's document of a product it created or edited. Applied when its
  `version` is above the row's `origin_version` (the service's versions of one product only grow), so a
  redelivered or late event never goes back; a product new here is inserted with its id and its initial
  stock. Stock of an existing product is never taken from the document: it moves by movements only.
- `catalog.stock.moved`: a stock movement made there, recorded once under its id; its delta is applied to
  the level here (an `initial` movement's level came with the product), never below zero: if the
  monolith's level is lower than the service's was (the monolith owns stock and sold meanwhile), the
  movement takes what is there and says so in the log.
Each write fires the monolith's catalog triggers like any other, so the monolith's relay sends the
product back to the service as `catalog.product.upserted` (with the monolith's newer version and, while
the monolith owns stock, its level); the service applies that and publishes nothing, so the loop ends.

A row the service refers to that is not here yet (a product's category, a movement's product) raises:
the event is retried with backoff, then dead-lettered, and `sync products verify` reports the id. A SKU
or slug taken here by ANOTHER record (two creates racing on both sides within the sync lag) is refused
by the unique index the same way.
"""

from __future__ import annotations

import logging
from decimal import Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils.dateparse import parse_datetime

from chassis.consumers import EventConsumer
from contracts import product as contract
from contracts.events import Envelope
from legacy_monolith.catalog.models import Category, Product, StockMovement

log = logging.getLogger(__name__)

DOCUMENT_FIELDS = (
    "sku",
    "name",
    "slug",
    "description",
    "currency",
    "attributes",
    "image_urls",
    "weight_grams",
    "is_active",
)


class NotYetReceived(LookupError):
    """An event refers to a row that has not arrived here yet (retried, then dead-lettered)."""


def category_apply(doc: dict) -> bool:
    """Insert a category created at the Product service; False when it is here already."""
    with transaction.atomic():
        if Category.objects.filter(pk=doc["id"]).exists():
            return False
        if doc["parent_id"] is not None and not Category.objects.filter(pk=doc["parent_id"]).exists():
            raise NotYetReceived(f"category {doc['parent_id']} (parent of {doc['id']}) is not here yet")
        Category.objects.create(id=doc["id"], name=doc["name"], slug=doc["slug"], parent_id=doc["parent_id"])
    return True


def product_apply(doc: dict, *, force: bool = False) -> bool:
    """Apply the service's document of a product; False when an equal or newer one was applied (`force`:
    verify --repair applies the service's copy whatever the versions say)."""
    category_id = doc["category"]["id"]
    fields = {name: doc[name] for name in DOCUMENT_FIELDS}
    fields.update(
        category_id=category_id,
        price=Decimal(doc["price"]),
        updated_at=parse_datetime(doc["updated_at"]),
        origin_version=doc["version"],
    )
    with transaction.atomic():
        if not Category.objects.filter(pk=category_id).exists():
            raise NotYetReceived(f"category {category_id} of product {doc['id']} is not here yet")
        row = Product.objects.select_for_update().filter(pk=doc["id"]).first()
        if row is None:
            Product.objects.create(id=doc["id"], stock=doc["stock"], **fields)
            # auto_now_add / auto_now stamp "now"; the document's timestamps are the record's
            Product.objects.filter(pk=doc["id"]).update(
                created_at=parse_datetime(doc["created_at"]), updated_at=fields["updated_at"]
            )
            return True
        if not force and row.origin_version >= doc["version"]:
            return False
        Product.objects.filter(pk=row.pk).update(**fields)
    return True


def movement_apply(doc: dict) -> bool:
    """Record a stock movement made at the Product service and apply its delta here, once per id."""
    with transaction.atomic():
        if StockMovement.objects.filter(pk=doc["id"]).exists():
            return False
        product = Product.objects.select_for_update().filter(pk=doc["product_id"]).first()
        if product is None:
            raise NotYetReceived(f"product {doc['product_id']} of movement {doc['id']} is not here yet")
        delta = 0 if doc["reason"] == "initial" else max(doc["delta"], -product.stock)
        if delta != doc["delta"] and doc["reason"] != "initial":
            log.warning(
                "stock movement %s: delta %s applied as %s (the level here is %s)",
                doc["id"],
                doc["delta"],
                delta,
                product.stock,
            )
        if delta:
            product.stock += delta
            Product.objects.filter(pk=product.pk).update(stock=product.stock)
        actor_id = doc["actor_id"]
        if actor_id is not None and not get_user_model().objects.filter(pk=actor_id).exists():
            actor_id = None  # a user the monolith has not received (yet): the movement keeps no actor
        StockMovement.objects.create(
            id=doc["id"],
            product=product,
            delta=doc["delta"] if doc["reason"] == "initial" else delta,
            balance_after=product.stock,
            reason=doc["reason"],
            reference=doc["reference"],
            actor_id=actor_id,
        )
        StockMovement.objects.filter(pk=doc["id"]).update(created_at=parse_datetime(doc["created_at"]))
    return True


def on_category_saved(envelope: Envelope) -> None:
    category_apply(contract.validate_category(envelope.data))


def on_product_saved(envelope: Envelope) -> None:
    product_apply(contract.validate_product(envelope.data))


def on_stock_moved(envelope: Envelope) -> None:
    doc = contract.validate_movement(envelope.data)
    if doc["id"] < settings.CATALOG_ID_OFFSET:
        return  # the monolith's own movement (its relay publishes them for the service's history)
    movement_apply(doc)


class ProductsReceiver(EventConsumer):
    name = "monolith.catalog"
    bindings = contract.SERVICE_WRITE_EVENTS
    handlers = {
        contract.CATEGORY_SAVED: on_category_saved,
        contract.PRODUCT_SAVED: on_product_saved,
        contract.STOCK_MOVED: on_stock_moved,
    }
