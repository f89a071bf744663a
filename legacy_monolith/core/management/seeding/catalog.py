"""Seed the category tree and products with their INITIAL stock movements.

Products are drawn one after another from one RNG, so the same seed gives the same products whatever
the batch size; each batch is inserted (products, then their movements) as soon as it is drawn, which
keeps memory flat at 100k products.
"""

from __future__ import annotations

import bisect
import itertools
import random
from datetime import datetime, timedelta
from decimal import Decimal

from django.utils.text import slugify

from legacy_monolith.catalog.models import Category, Product, StockMovement

from .base import SEED_REFERENCE, Progress, bulk_insert, sku_for
from .catalog_spec import CATEGORY_TREE, LEAVES, Leaf

IMAGE_BASE_URL = "https://img.techstore.example/products"
VARIANTS = ("",) * 12 + ("Pro", "Plus", "Lite", "Max", "SE", "Gen 2", "Gen 3", "(2024)", "(2025)", "Neo")
CLOSINGS = (
    "Ships in its original packaging with a two-year TechStore warranty.",
    "Free returns within 30 days; recycled packaging.",
    "In stock items leave our warehouse within 24 hours.",
    "Includes a quick-start guide and EU power adapter where applicable.",
    "Rated 4.6/5 by TechStore customers.",
    "Eligible for our trade-in programme.",
)
# Stock levels: about one product in eight is out of stock, a fifth are running low.
OUT_OF_STOCK_SHARE = 0.12
LOW_STOCK_SHARE = 0.18
INACTIVE_SHARE = 0.02
# Seeded products were listed between three years and one year before the seed's as-of time, so every
# seeded order (within the last year) comes after the products it contains.
LISTED_DAYS_AGO = (366, 3 * 365)


def categories_ensure() -> tuple[dict[str, Category], int]:
    """Create the category tree where missing (matched by slug). Returns leaf categories by slug."""
    created = 0
    leaves: dict[str, Category] = {}
    for parent_name, leaf_specs in CATEGORY_TREE:
        parent, made = Category.objects.get_or_create(
            slug=slugify(parent_name), defaults={"name": parent_name}
        )
        created += made
        for leaf in leaf_specs:
            child, made = Category.objects.get_or_create(
                slug=slugify(leaf.name), defaults={"name": leaf.name, "parent": parent}
            )
            created += made
            leaves[child.slug] = child
    return leaves, created


def _display(value) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


_UNITS = {"gb": "GB", "inches": '"', "hz": "Hz", "mhz": "MHz", "mah": "mAh", "m": "m", "mm": "mm"}
_UNITS |= {"hours": "h", "days": "days", "pa": "Pa", "minutes": "min"}


def _spec(key: str, value: str) -> str:
    """'storage_gb', '512' -> 'storage 512 GB'; 'wireless', 'yes' -> 'wireless yes'."""
    label, _, unit = key.rpartition("_")
    if label and unit in _UNITS:
        return f"{label.replace('_', ' ')} {value}{_UNITS[unit] if unit == 'inches' else ' ' + _UNITS[unit]}"
    return f"{key.replace('_', ' ')} {value}"


def _attribute_value(value):
    return {"yes": True, "no": False}.get(value, value) if isinstance(value, str) else value


class ProductDraw:
    """Draws realistic products from the catalogue spec with one RNG."""

    def __init__(self, rng: random.Random, *, categories: dict[str, Category], as_of: datetime):
        self.rng = rng
        self.as_of = as_of
        self.leaves = [(categories[slugify(leaf.name)], leaf) for _, leaf in LEAVES]
        self.cumulative = list(itertools.accumulate(leaf.share for _, leaf in self.leaves))

    def product(self, number: int) -> tuple[Product, int]:
        """The product with this SKU number, and its initial stock."""
        rng = self.rng
        category, leaf = self.leaves[bisect.bisect_right(self.cumulative, rng.random() * self.cumulative[-1])]
        brand = rng.choice(tuple(leaf.brands))
        series = rng.choice(leaf.brands[brand])
        overrides = leaf.brand_attrs.get(brand, {})
        attributes: dict = {"brand": brand}
        display: dict[str, str] = {}
        driver_rank = None
        for key, choices in (leaf.attrs | overrides).items():
            index = rng.randrange(len(choices))
            attributes[key] = _attribute_value(choices[index])
            display[key] = _display(choices[index])
            if key == leaf.price_driver:
                driver_rank = index / (len(choices) - 1) if len(choices) > 1 else 0.5
        color = rng.choice(leaf.colors)
        attributes["color"] = color
        variant = rng.choice(VARIANTS)
        title = leaf.title.format(**display)
        name = " ".join(part for part in (brand, series, variant, title) if part)
        name = f"{name}, {color.capitalize()}"[:200]
        sku = sku_for(number, leaf.code)
        listed_at = self.as_of - timedelta(days=rng.uniform(*LISTED_DAYS_AGO))
        stock = self._stock()
        product = Product(
            sku=sku,
            name=name,
            slug=slugify(name)[:220],
            description=self._description(leaf, brand, series, display),
            category=category,
            price=self._price(leaf, driver_rank),
            currency="EUR",
            attributes=attributes,
            image_urls=[f"{IMAGE_BASE_URL}/{sku.lower()}/{i}.jpg" for i in range(1, rng.randint(1, 4) + 1)],
            stock=stock,
            weight_grams=rng.randint(*leaf.weight),
            is_active=rng.random() >= INACTIVE_SHARE,
            created_at=listed_at,
            updated_at=listed_at,
        )
        return product, stock

    def _price(self, leaf: Leaf, driver_rank: float | None) -> Decimal:
        low, high = leaf.price
        position = self.rng.random()
        if driver_rank is not None:
            position = 0.55 * driver_rank + 0.45 * position
        euros = max(int(low * (high / low) ** position), 1)
        cents = self.rng.choice((99, 99, 99, 49, 0))
        return Decimal(f"{euros}.{cents:02d}")

    def _stock(self) -> int:
        draw = self.rng.random()
        if draw < OUT_OF_STOCK_SHARE:
            return 0
        if draw < OUT_OF_STOCK_SHARE + LOW_STOCK_SHARE:
            return self.rng.randint(1, 5)
        return self.rng.randint(6, 250)

    def _description(self, leaf: Leaf, brand: str, series: str, display: dict[str, str]) -> str:
        specs = ", ".join(_spec(key, value) for key, value in display.items())
        return f"The {brand} {series}. {leaf.blurb} Specifications: {specs}. {self.rng.choice(CLOSINGS)}"


def products_seed(
    *,
    rng: random.Random,
    count: int,
    first_number: int,
    categories: dict[str, Category],
    as_of: datetime,
    batch_size: int,
    progress: Progress,
) -> tuple[int, int]:
    """Insert `count` products numbered from `first_number`, each with an INITIAL movement when stocked.

    Returns (products, movements) inserted.
    """
    draw = ProductDraw(rng, categories=categories, as_of=as_of)
    progress.start("products", count)
    inserted = movements = 0
    for start in range(0, count, batch_size):
        batch = [draw.product(first_number + i) for i in range(start, min(start + batch_size, count))]
        products = bulk_insert(
            Product,
            [p for p, _ in batch],
            key="sku",
            batch_size=batch_size,
            progress=progress,
            entity="products",
        )
        initial = [
            StockMovement(
                product_id=product.pk,
                delta=stock,
                balance_after=stock,
                reason=StockMovement.Reason.INITIAL,
                reference=SEED_REFERENCE,
                created_at=product.created_at,
            )
            for product, (_, stock) in zip(products, batch, strict=True)
            if stock > 0
        ]
        StockMovement.objects.bulk_create(initial, batch_size=batch_size)
        inserted += len(products)
        movements += len(initial)
    return inserted, movements
