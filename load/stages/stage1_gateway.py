"""Stage 1, the gateway in front of the monolith: the whole journey, as a shop's traffic."""

from load.journey import Shopper


class GatewayShopper(Shopper):
    pass
