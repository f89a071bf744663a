"""Tables of the ORM catalog store (store/orm/): one hybrid row per product, real columns for what
is filtered and sorted plus the whole contract document as JSON (JSONB on PostgreSQL), and the
categories, tombstones and stock ledger beside it. Vendor-specific indexes (trigram, full text, GIN on
attributes) live in the migrations and exist only on PostgreSQL."""

from django.db import models


class CatalogProduct(models.Model):
    """A product document. `id` is the monolith's product id; `version` its sync_version; `digest` the
    document's contract digest, computed at write time so verify never re-serialises documents."""

    id = models.BigIntegerField(primary_key=True)
    category_id = models.BigIntegerField()
    sku = models.CharField(max_length=64)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    price = models.DecimalField(max_digits=10, decimal_places=2)
    stock = models.IntegerField()
    is_active = models.BooleanField()
    created_at = models.DateTimeField()
    attributes = models.JSONField(default=dict)
    doc = models.JSONField()
    version = models.BigIntegerField()
    digest = models.CharField(max_length=32)
    applied_at = models.DateTimeField()

    class Meta:
        indexes = [
            # Every v1 ordering is (key, id) over active products; staff listings add inactive ones.
            models.Index(fields=["is_active", "price", "id"], name="catalog_store_price_idx"),
            models.Index(fields=["is_active", "name", "id"], name="catalog_store_name_idx"),
            models.Index(fields=["is_active", "created_at", "id"], name="catalog_store_created_idx"),
            models.Index(fields=["is_active", "stock", "id"], name="catalog_store_stock_idx"),
            models.Index(fields=["category_id", "is_active"], name="catalog_store_category_idx"),
            models.Index(fields=["sku"], name="catalog_store_sku_idx"),
            models.Index(fields=["version"], name="catalog_store_version_idx"),
        ]
        constraints = [
            # The store's own checks never take stock below zero; the database refuses it as well.
            models.CheckConstraint(condition=models.Q(stock__gte=0), name="catalog_store_stock_not_negative"),
        ]


class CatalogSearch(models.Model):
    """The v1 `q` search's narrow relation on PostgreSQL: a product's id, active flag and upper-cased
    searchable text (store/orm/text_search.py). Created and kept by migration 0005's trigger on the
    product table, never written by Django (unmanaged); absent on SQLite."""

    id = models.BigIntegerField(primary_key=True)
    is_active = models.BooleanField()
    haystack = models.TextField()

    class Meta:
        managed = False
        db_table = "product_service_catalogsearch"


class CatalogCategory(models.Model):
    id = models.BigIntegerField(primary_key=True)
    name = models.CharField(max_length=120)
    slug = models.CharField(max_length=140)
    parent_id = models.BigIntegerField(null=True)
    version = models.BigIntegerField()

    class Meta:
        indexes = [
            models.Index(fields=["slug"], name="catalog_store_cat_slug_idx"),
            models.Index(fields=["parent_id"], name="catalog_store_cat_parent_idx"),
        ]


class CatalogTombstone(models.Model):
    """A deleted product's id and the version it was deleted at: upserts at or below it are stale."""

    id = models.BigIntegerField(primary_key=True)
    version = models.BigIntegerField()
    deleted_at = models.DateTimeField()


class StockLedgerEntry(models.Model):
    """One stock operation keyed by its caller's reference, so a replay applies nothing twice: a
    reservation (its lines, then released) or a referenced adjustment."""

    class Kind(models.TextChoices):
        RESERVATION = "reservation"
        ADJUSTMENT = "adjustment"

    class Status(models.TextChoices):
        RESERVED = "reserved"
        RELEASED = "released"
        APPLIED = "applied"

    reference = models.CharField(max_length=100, primary_key=True)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    lines = models.JSONField()
    status = models.CharField(max_length=16, choices=Status.choices)
    created_at = models.DateTimeField()
    released_at = models.DateTimeField(null=True)


class CatalogIdCounter(models.Model):
    """The last id handed out per kind (product, category, movement) to records created here; public ids
    are CATALOG_ID_OFFSET + it. The row lock also serialises the SKU check of creates and SKU changes."""

    name = models.CharField(max_length=16, primary_key=True)
    last = models.BigIntegerField(default=0)


class CatalogStockMovement(models.Model):
    """One change of a product's stock level made through this service's /api/v1 (staff adjustments, a
    create's initial stock): the monolith's StockMovement, field for field, with the same id on both
    sides once it has flowed back."""

    id = models.BigIntegerField(primary_key=True)
    product_id = models.BigIntegerField()
    delta = models.IntegerField()
    balance_after = models.IntegerField()
    reason = models.CharField(max_length=16)
    reference = models.CharField(max_length=64, blank=True)
    actor_id = models.BigIntegerField(null=True)
    created_at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["product_id", "-created_at", "-id"], name="catalog_movement_product_idx")
        ]
