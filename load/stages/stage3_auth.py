"""Stage 3, logins move to the Auth service (route.auth.login): more logins and token refreshes."""

from load.journey import Shopper


class AuthShopper(Shopper):
    tasks = {Shopper.login: 6, Shopper.refresh: 6, Shopper.browse: 8, Shopper.search: 3, Shopper.cart: 1}
