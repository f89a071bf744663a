"""Catalog writes. Other apps call the stock functions in-process (the cross-app contract)."""

from .categories import category_create
from .products import product_create, product_deactivate, product_update
from .stock import stock_adjust, stock_release, stock_reserve

__all__ = [
    "category_create",
    "product_create",
    "product_deactivate",
    "product_update",
    "stock_adjust",
    "stock_release",
    "stock_reserve",
]
