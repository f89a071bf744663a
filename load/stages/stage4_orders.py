"""Stage 4, orders move to the Order service (orders.*): carts and checkouts weigh more."""

from load.journey import Shopper


class OrderShopper(Shopper):
    tasks = {Shopper.browse: 8, Shopper.search: 3, Shopper.cart: 6, Shopper.checkout: 3, Shopper.login: 1}
