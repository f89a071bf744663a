"""Catalog writes. Other apps call the stock functions in-process (the cross-app contract)."""

from .stock import stock_adjust, stock_release, stock_reserve

__all__ = ["stock_adjust", "stock_release", "stock_reserve"]
