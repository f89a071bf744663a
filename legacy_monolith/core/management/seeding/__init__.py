"""Deterministic TechStore demo and benchmark data (`manage.py seed_techstore`)."""

from .base import DEMO_PASSWORD, SEED_EMAIL_DOMAIN, SEED_ORDER_PREFIX, SEED_SKU_REGEX, SeedError
from .runner import Mode, SeedResult, seed_techstore, seeded_data_counts, seeded_data_delete

__all__ = [
    "DEMO_PASSWORD",
    "SEED_EMAIL_DOMAIN",
    "SEED_ORDER_PREFIX",
    "SEED_SKU_REGEX",
    "Mode",
    "SeedError",
    "SeedResult",
    "seed_techstore",
    "seeded_data_counts",
    "seeded_data_delete",
]
