"""Order numbers: short, unguessable, sortable by day, safe to read aloud (no 0/O or 1/I)."""

import secrets

from django.utils import timezone

from ..models import Order

_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"


def order_number_new() -> str:
    """TS-YYMMDD-XXXXXX; 32^6 (about 10^9) numbers a day, re-drawn on the rare collision."""
    day = timezone.now().strftime("%y%m%d")
    while True:
        number = f"TS-{day}-{''.join(secrets.choice(_ALPHABET) for _ in range(6))}"
        if not Order.objects.filter(number=number).exists():
            return number
