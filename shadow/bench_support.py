"""Realistic shadow pairs for benchmarks and reports: a catalog listing page of about 2 KB of JSON, answered
by legacy and by the candidate, with per-answer noise (a generation timestamp and a request id) and, for a
share of the pairs, one real difference (a price rendered differently).

`measure_throughput` is what `make bench-shadow` reports as the comparator's pairs/s on one core."""

from __future__ import annotations

import random
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from shadow.comparator import Comparator
from shadow.pairs import Exchange, ShadowPair
from shadow.rules import Rules, RuleSet

JSON_HEADERS = (("content-type", "application/json"), ("cache-control", "no-store"))
BENCH_ROUTE = "catalog.read"


def bench_rules() -> Rules:
    """The rules a catalog route would run with: the per-answer noise normalised by shape and path."""
    return Rules(
        source="(bench)",
        defaults=RuleSet(headers=("content-type",), shapes=()),
        routes=(
            (
                "catalog.*",
                RuleSet(
                    ignore=("body.meta.request_id",),
                    unordered=("body.results[*].image_urls",),
                ),
            ),
        ),
    )


def catalog_page(rng: random.Random, *, products: int = 4) -> dict[str, Any]:
    """A listing page shaped like the monolith's /api/v1/catalog/products (about 2 KB for 4 products)."""
    created = datetime(2026, 1, 1, tzinfo=UTC)
    results = []
    for _ in range(products):
        pid = rng.randint(1, 100_000)
        results.append(
            {
                "id": pid,
                "sku": f"SKU-{pid:06d}",
                "name": f"Product {pid} {rng.choice(['Laptop', 'Phone', 'Monitor', 'Keyboard'])}",
                "slug": f"product-{pid}",
                "description": "A dependable device for everyday work and play. " * 2,
                "category": {"id": rng.randint(1, 40), "slug": "computers", "name": "Computers"},
                "price": f"{rng.randint(5, 3000)}.{rng.randint(0, 99):02d}",
                "currency": "EUR",
                "attributes": {"color": rng.choice(["black", "silver"]), "warranty_months": 24},
                "image_urls": [f"https://img.techstore.example/{pid}/{n}.jpg" for n in range(3)],
                "stock": rng.randint(0, 500),
                "in_stock": True,
                "weight_grams": rng.randint(100, 5000),
                "is_active": True,
                "created_at": (created + timedelta(minutes=pid)).isoformat().replace("+00:00", "Z"),
                "updated_at": (created + timedelta(minutes=pid, seconds=7))
                .isoformat()
                .replace("+00:00", "Z"),
            }
        )
    return {"count": 1000, "next": "?page=2", "previous": None, "results": results, "meta": {}}


def _answer(page: dict[str, Any], elapsed_ms: float) -> Exchange:
    noisy = {**page, "meta": {"request_id": uuid.uuid4().hex}}
    return Exchange.answered(200, JSON_HEADERS, orjson.dumps(noisy), elapsed_ms)


def make_pairs(
    count: int, *, seed: int = 7, mismatch_every: int = 50, secondary: bool = False
) -> list[ShadowPair]:
    """`count` pairs; every `mismatch_every`-th has one real difference (a price), the rest only noise."""
    rng = random.Random(seed)
    pairs = []
    for index in range(count):
        page = catalog_page(rng)
        candidate_page = page
        if mismatch_every and index % mismatch_every == mismatch_every - 1:
            results = [dict(item) for item in page["results"]]
            results[0]["price"] = float(results[0]["price"])  # "12.50" rendered as the number 12.5
            candidate_page = {**page, "results": results}
        elif index % 3 == 0:  # same images, another order: equal under the unordered rule
            results = [{**item, "image_urls": item["image_urls"][::-1]} for item in page["results"]]
            candidate_page = {**page, "results": results}
        pairs.append(
            ShadowPair.build(
                route=BENCH_ROUTE,
                trace_id=uuid.uuid4().hex,
                user=str(rng.randint(1, 50)),
                method="GET",
                path="/api/v1/catalog/products",
                query="page=1",
                header_fields=(("accept", "application/json"),),
                body=None,
                primary=_answer(page, rng.uniform(5, 20)),
                candidate=_answer(candidate_page, rng.uniform(5, 20)),
                secondary=_answer(page, rng.uniform(5, 20)) if secondary else None,
            )
        )
    return pairs


def measure_throughput(
    pairs: list[ShadowPair], *, rules: Rules | None = None, rounds: int = 3, decode: bool = True
) -> dict:
    """Compare every pair `rounds` times in this process; the best round's pairs per second of wall time
    and per second of this process's CPU time (the fair figure on a shared machine), plus the mismatches.
    decode=True times what the worker does per message: ShadowPair.from_json, then compare."""
    comparator = Comparator(rules or bench_rules())
    raw = [pair.to_json() for pair in pairs]
    best = best_cpu = 0.0
    mismatched = 0
    for _ in range(rounds):
        started, cpu_started = time.perf_counter(), time.process_time()
        if decode:
            mismatched = sum(not comparator.compare(ShadowPair.from_json(r)).matched for r in raw)
        else:
            mismatched = sum(not comparator.compare(pair).matched for pair in pairs)
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        best = max(best, len(pairs) / elapsed)
        best_cpu = max(best_cpu, len(pairs) / cpu) if cpu > 0 else best_cpu
    body_bytes = sum(len(p.primary.body) for p in pairs) / max(len(pairs), 1)
    return {
        "pairs": len(pairs),
        "pairs_per_second": round(best, 1),
        "pairs_per_cpu_second": round(best_cpu, 1),
        "mismatched": mismatched,
        "mean_body_bytes": round(body_bytes),
        "decode": decode,
    }
