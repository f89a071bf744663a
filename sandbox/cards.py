"""Card checks of the simulated gateways: Luhn, expiry, brand, the issuing country of a BIN, test cards."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

# Numbers with a scripted outcome at authorization; every other valid number is approved.
TEST_CARD_DECLINES = {
    "4000000000000002": "card_declined",
    "4000000000009995": "insufficient_funds",
}

# BIN (first six digits) -> issuing country. A small, documented table; unknown BINs are "US".
BIN_COUNTRIES = {
    "424242": "FR",
    "400000": "US",
    "411111": "US",
    "401288": "GB",
    "555555": "DE",
    "510510": "GB",
    "378282": "US",
    "400005": "BR",
}
DEFAULT_COUNTRY = "US"


class CardError(Exception):
    """The card cannot be tokenized; `code` is the gateway-neutral reason."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class CardFacts:
    brand: str
    bin: str
    last4: str
    country: str
    exp_month: int
    exp_year: int
    scripted_decline: str | None


def luhn_valid(number: str) -> bool:
    if not number.isdigit() or not 12 <= len(number) <= 19:
        return False
    total = 0
    for index, char in enumerate(reversed(number)):
        digit = int(char)
        if index % 2 == 1:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


def brand_of(number: str) -> str:
    if number.startswith("4"):
        return "visa"
    if number[:2] in {"34", "37"}:
        return "amex"
    if 51 <= int(number[:2]) <= 55 or 2221 <= int(number[:4]) <= 2720:
        return "mastercard"
    return "unknown"


def examine(number: object, exp_month: object, exp_year: object, cvc: object, *, today: dt.date) -> CardFacts:
    """Validate a card as a gateway's tokenizer would; raise CardError with a stable code."""
    number = number.replace(" ", "") if isinstance(number, str) else ""
    if not luhn_valid(number):
        raise CardError("invalid_number", "The card number is not a valid card number")
    if not isinstance(exp_month, int) or isinstance(exp_month, bool) or not 1 <= exp_month <= 12:
        raise CardError("invalid_expiry_month", "The expiry month must be an integer from 1 to 12")
    if not isinstance(exp_year, int) or isinstance(exp_year, bool) or not 2000 <= exp_year <= 2100:
        raise CardError("invalid_expiry_year", "The expiry year must be a four-digit year")
    if (exp_year, exp_month) < (today.year, today.month):
        raise CardError("expired_card", "The card has expired")
    brand = brand_of(number)
    cvc = cvc if isinstance(cvc, str) else ""
    if not cvc.isdigit() or len(cvc) != (4 if brand == "amex" else 3):
        raise CardError("invalid_cvc", "The card security code is invalid")
    return CardFacts(
        brand=brand,
        bin=number[:6],
        last4=number[-4:],
        country=BIN_COUNTRIES.get(number[:6], DEFAULT_COUNTRY),
        exp_month=exp_month,
        exp_year=exp_year,
        scripted_decline=TEST_CARD_DECLINES.get(number),
    )
