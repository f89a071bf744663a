"""Stage 2, the catalog moves to the Product service (route.catalog.read, v2.catalog): reads dominate."""

from load.journey import Shopper


class CatalogShopper(Shopper):
    tasks = {Shopper.browse: 20, Shopper.search: 12, Shopper.cart: 2, Shopper.checkout: 1, Shopper.login: 1}
