"""Shadow pairs of the payments stage for the comparator's throughput, compared under the shipped rules file
(shadow/rules.yaml: its payments.charge and payments.read entries).

Half are checkout pairs (route payments.charge): legacy answers the monolith's whole order (201), the
candidate the payment's part of it (extracted/payment_service/services/shadow.py: `{"payment": {...}}` with
no payment id), or both answer the same 402 decline. Half are payment reads (payments.read): the v1 payment
document (contracts.payment.V1_PAYMENT_FIELDS) from legacy, and from the candidate's shadow charge, whose
provider reference and creation time differ by construction. Every `mismatch_every`-th pair carries one
real difference, the issue's example: the candidate's antifraud scores one point more (`fraud_score`).
"""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from contracts.payment import V1_PAYMENT_FIELDS
from shadow.pairs import Exchange, ShadowPair

JSON_HEADERS = (("content-type", "application/json"), ("vary", "Accept, Cookie"))
BRANDS = (("visa", "4242"), ("mastercard", "4444"), ("amex", "0005"))
SHIPPING = {"name": "Ada Lovelace", "line1": "1 rue de la Paix", "city": "Paris", "postal_code": "75001",
            "country": "FR", "carrier": "colissimo"}  # fmt: skip


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _money(rng: random.Random) -> str:
    return f"{rng.randint(5, 900)}.{rng.randint(0, 99):02d}"


def _exchange(status: int, body: dict[str, Any], rng: random.Random) -> Exchange:
    return Exchange.answered(status, JSON_HEADERS, orjson.dumps(body), rng.uniform(30, 400))


def _payment_document(rng: random.Random, index: int, moment: datetime, brand: tuple[str, str]) -> dict:
    score = rng.choice([0, 0, 10, 15, 25])
    document = {
        "id": 10_000 + index,
        "order_number": f"TS-{260000 + index}",
        "gateway": rng.choice(["cardinal", "northpay"]),
        "gateway_ref": f"ch_{uuid.UUID(int=rng.getrandbits(128)).hex[:24]}",
        "amount": _money(rng),
        "amount_refunded": "0.00",
        "currency": "EUR",
        "status": "captured",
        "card_brand": brand[0],
        "card_last4": brand[1],
        "fraud_score": score,
        "fraud_reasons": ["country_mismatch"] if score == 15 else [],
        "failure_code": "",
        "failure_message": "",
        "created_at": _iso(moment),
        "refunds": [],
    }
    assert tuple(document) == V1_PAYMENT_FIELDS  # the contract's document, field for field
    return document


def _read_pair(rng: random.Random, index: int, moment: datetime, planted: bool) -> ShadowPair:
    brand = rng.choice(BRANDS)
    legacy = _payment_document(rng, index, moment, brand)
    candidate = {
        **legacy,
        "gateway_ref": f"ch_{uuid.UUID(int=rng.getrandbits(128)).hex[:24]}",  # the test mode's own charge
        "created_at": _iso(moment + timedelta(milliseconds=rng.randint(20, 900))),
    }
    if planted:
        candidate["fraud_score"] = legacy["fraud_score"] + 1
    return _pair(rng, "payments.read", "GET", f"/api/v1/payments/{legacy['id']}", None, legacy, candidate)


def _checkout_pair(rng: random.Random, index: int, moment: datetime) -> ShadowPair:
    brand = rng.choice(BRANDS)
    number = f"TS-{260000 + index}"
    request = {
        "shipping": {k: v for k, v in SHIPPING.items() if k != "carrier"},
        "coupon_code": None,
        "payment": {"gateway": "cardinal", "card": {"number": "4242424242424242", "exp_month": 12,
                                                    "exp_year": 2030, "cvc": "123"}},
    }  # fmt: skip
    if rng.random() < 0.1:  # a declined card: both answer the same 402
        answer = {
            "code": "payment_declined",
            "message": "The card was declined (Your card was declined.)",
            "extra": {"order_number": number, "payment_id": None, "decline_code": "card_declined"},
        }
        return _pair(rng, "payments.charge", "POST", "/api/v1/orders/checkout", request, answer, answer, 402)
    total = _money(rng)
    items = [
        {"product_id": rng.randint(1, 5000), "sku": f"SKU-{rng.randint(1, 99999):05d}", "name": "USB-C dock",
         "unit_price": total, "quantity": 1, "line_total": total}
    ]  # fmt: skip
    block = {"status": "captured", "gateway": "cardinal", "card_last4": brand[1], "card_brand": brand[0]}
    legacy = {
        "number": number, "status": "paid", "currency": "EUR", "subtotal": total, "discount_total": "0.00",
        "shipping_total": "0.00", "total": total, "coupon_code": None, "shipping": SHIPPING, "items": items,
        "created_at": _iso(moment), "paid_at": _iso(moment + timedelta(milliseconds=300)),
        "cancelled_at": None,
        "payment": {"id": 10_000 + index, **block},
    }  # fmt: skip
    candidate = {"payment": {"id": None, **block}}
    return _pair(rng, "payments.charge", "POST", "/api/v1/orders/checkout", request, legacy, candidate, 201)


def _pair(rng, route, method, path, request, legacy, candidate, status: int = 200) -> ShadowPair:
    return ShadowPair.build(
        route=route,
        trace_id=uuid.UUID(int=rng.getrandbits(128)).hex,
        user=str(rng.randint(1, 500)),
        method=method,
        path=path,
        query="",
        header_fields=(("accept", "application/json"), ("content-type", "application/json")),
        body=orjson.dumps(request) if request is not None else None,
        primary=_exchange(status, legacy, rng),
        candidate=_exchange(status, candidate, rng),
    )


def make_payment_pairs(
    count: int, *, seed: int = 14, mismatch_every: int = 50
) -> tuple[list[ShadowPair], int]:
    """`count` pairs, half checkouts and half reads; returns them and how many carry a planted difference."""
    rng = random.Random(seed)
    start = datetime(2026, 12, 7, 12, tzinfo=UTC)
    pairs, planted = [], 0
    for index in range(count):
        moment = start + timedelta(seconds=index)
        if index % 2:
            plant = bool(mismatch_every) and index % mismatch_every == mismatch_every - 1
            planted += plant
            pairs.append(_read_pair(rng, index, moment, plant))
        else:
            pairs.append(_checkout_pair(rng, index, moment))
    return pairs, planted
