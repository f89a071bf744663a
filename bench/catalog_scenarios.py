"""The request mixes of the catalog benches, drawn with a seeded RNG from the same catalogue spec the
seed uses, so filters and searches hit rows the way shoppers' requests do. Later benches replay the
same mixes against the Product service."""

from __future__ import annotations

import random
from urllib.parse import urlencode

from django.utils.text import slugify

from legacy_monolith.core.management.seeding.catalog_spec import CATEGORY_TREE, SEARCH_TERMS

SCENARIOS = ("list", "filter", "search")
PRODUCTS_PATH = "/api/v1/catalog/products"
LIST_FRONT_PAGES = 10  # most shoppers stay on the first pages...
LIST_FRONT_SHARE = 0.7  # ...the rest jump anywhere, deep pages included
IN_STOCK_SHARE = 0.8
PARENT_CATEGORY_SHARE = 0.3  # a parent category lists its children's products too


def scenario_paths(name: str, rng: random.Random, *, count: int, product_pages: int) -> list[str]:
    """`count` request paths for a scenario, drawn from the seeded catalogue's real categories, brands,
    colours and words, so filters and searches hit rows the way shoppers' do."""
    families = [(parent, leaf) for parent, leaves in CATEGORY_TREE for leaf in leaves]
    paths = []
    for _ in range(count):
        if name == "list":
            front = rng.random() < LIST_FRONT_SHARE
            page = (
                rng.randint(1, min(LIST_FRONT_PAGES, product_pages))
                if front
                else rng.randint(1, product_pages)
            )
            query: dict[str, str | int] = {"page": page}
        elif name == "filter":
            parent, leaf = rng.choice(families)
            low, high = leaf.price
            min_price = rng.randint(low, (low + high) // 2)
            query = {
                "category": slugify(parent if rng.random() < PARENT_CATEGORY_SHARE else leaf.name),
                "min_price": min_price,
                "max_price": rng.randint(min_price, high),
            }
            if rng.random() < IN_STOCK_SHARE:
                query["in_stock"] = "true"
            if rng.random() < 0.5:
                query["attr.brand"] = rng.choice(tuple(leaf.brands))
            else:
                query["attr.color"] = rng.choice(leaf.colors)
        elif name == "search":
            leaf = rng.choice(families)[1]
            brand = rng.choice(tuple(leaf.brands))
            words = (*SEARCH_TERMS, brand, rng.choice(leaf.brands[brand]))
            query = {"q": rng.choice(words)}
        else:
            raise ValueError(f"unknown scenario {name!r}")
        paths.append(f"{PRODUCTS_PATH}?{urlencode(query)}")
    return paths
