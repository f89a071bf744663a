"""Stage 6, the Notification service: customers shop (their orders and payments feed it events) and read
their notifications and preferences through the gateway (route v2.notifications), the inbox first."""

from load.journey import Shopper


class NotificationShopper(Shopper):
    tasks = {
        Shopper.browse: 6, Shopper.search: 2, Shopper.cart: 2, Shopper.checkout: 1, Shopper.login: 1,
        Shopper.notifications: 3, Shopper.preferences: 1,
    }  # fmt: skip

    def on_start(self) -> None:
        super().on_start()
        self.notifications()  # the app opens on the customer's notifications
