"""Categories, products and the stock-movement history."""

from django.conf import settings
from django.db import models


class Category(models.Model):
    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=140, unique=True)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    sync_version = models.BigIntegerField(default=0, editable=False)  # trigger-set: migrations_data 0002

    class Meta:
        verbose_name_plural = "categories"
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Product(models.Model):
    sku = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=220)
    description = models.TextField(blank=True)
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="products")
    price = models.DecimalField(max_digits=10, decimal_places=2)
    currency = models.CharField(max_length=3, default="EUR")
    attributes = models.JSONField(default=dict, blank=True)
    image_urls = models.JSONField(default=list, blank=True)
    stock = models.IntegerField(default=0)
    weight_grams = models.PositiveIntegerField(default=0)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    sync_version = models.BigIntegerField(default=0, editable=False, db_index=True)  # trigger-set
    # The Product service's version of its last edit applied here (`sync products receive`): its edits
    # apply in order, once, whatever the broker's redelivery order (ids >= CATALOG_ID_OFFSET were created
    # there).
    origin_version = models.BigIntegerField(default=0, editable=False)

    class Meta:
        ordering = ["id"]
        # Indexes for the storefront's sort keys; no trigram/GIN search index: that is the baseline.
        indexes = [
            models.Index(fields=["price"]),
            models.Index(fields=["updated_at"]),
            models.Index(fields=["name"], name="catalog_product_name_idx"),
            models.Index(fields=["created_at"], name="catalog_product_created_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(stock__gte=0), name="product_stock_not_negative"),
            models.CheckConstraint(condition=models.Q(price__gte=0), name="product_price_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.sku} {self.name}"


class StockMovement(models.Model):
    """One change of a product's stock level; `balance_after` is the level right after it."""

    class Reason(models.TextChoices):
        RESTOCK = "restock", "Restock"
        ADJUSTMENT = "adjustment", "Manual adjustment"
        RESERVATION = "reservation", "Reserved by an order"
        RELEASE = "release", "Released by a failed or cancelled order"
        RETURN = "return", "Customer return"
        INITIAL = "initial", "Initial stock"

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="stock_movements")
    delta = models.IntegerField()
    balance_after = models.IntegerField()
    reason = models.CharField(max_length=16, choices=Reason.choices)
    reference = models.CharField(max_length=64, blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
