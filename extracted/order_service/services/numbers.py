"""Order numbers, in the monolith's format (TS-YYMMDD-XXXXXX), so numbers from both sides never clash in
shape and stay unique across them (32^6 a day, re-drawn on the rare collision here; `sync orders verify`
compares both sides)."""

from __future__ import annotations

import secrets

from django.utils import timezone

from ..models import Order

_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"


def order_number_new() -> str:
    day = timezone.now().strftime("%y%m%d")
    while True:
        number = f"TS-{day}-{''.join(secrets.choice(_ALPHABET) for _ in range(6))}"
        if not Order.objects.filter(number=number).exists():
            return number
