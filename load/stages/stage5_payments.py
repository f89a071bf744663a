"""Stage 5, payments move to the Payment service (payments.charge): checkouts weigh the most."""

from load.journey import Shopper


class PaymentShopper(Shopper):
    tasks = {Shopper.browse: 6, Shopper.cart: 3, Shopper.checkout: 5, Shopper.login: 1}
