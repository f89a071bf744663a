"""`make bench-saga`: checkouts per second and p50/p99 latency through the Order service's saga, against the
monolith's synchronous checkout, side by side in one run on one stack (same monolith, same sandbox, same
latency): rounds alternate monolith, saga, monolith, saga, ...; each round fills every customer's cart (not
timed), then every customer checks out once, `--concurrency` at a time. Figures are medians over rounds.

The saga's checkout is v1 (it waits for the saga's outcome, so its latency is the whole saga's). Ends with
one JSON line (also written to var/bench/saga.json).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bench.checkout_load import run_round
from bench.report import REPO_ROOT, elapsed_since, emit_json_line, median, run_facts
from bench.stats import percentile
from legacy_monolith.demo.order_stack import APPROVED, checkout_body, running_orders_stack
from legacy_monolith.demo.services import throwaway_database

OUTPUT = REPO_ROOT / "var" / "bench" / "saga.json"


def figures(outcomes, wall: float) -> dict:
    ok = [o.seconds for o in outcomes if o.status in (200, 201)]
    failed = Counter(f"{o.status} {o.code}".strip() for o in outcomes if o.status not in (200, 201))
    return {
        "checkouts": len(outcomes),
        "ok": len(ok),
        "errors": len(outcomes) - len(ok),
        "checkouts_per_s": round(len(ok) / wall, 1) if wall else 0.0,
        "p50_ms": round(percentile(ok, 50) * 1000, 1) if ok else None,
        "p99_ms": round(percentile(ok, 99) * 1000, 1) if ok else None,
        "error_codes": dict(failed),  # e.g. {"503 catalog_unavailable": 1}
    }


def run(args: argparse.Namespace, console: Console) -> dict:
    started = time.monotonic()
    var_dir = Path(args.var_dir or REPO_ROOT / "var" / "bench-saga")
    var_dir.mkdir(parents=True, exist_ok=True)
    order_env = {"ORDER_CHECKOUT_WAIT_SECONDS": "60", "LOG_LEVEL": "WARNING"}
    rounds: dict[str, list[dict]] = {"monolith": [], "saga": []}
    with (
        throwaway_database("techstore_bench_saga") as database_url,
        running_orders_stack(
            database_url=database_url,
            var_dir=var_dir,
            customers=args.customers,
            restock=1_000_000,
            order_env=order_env,
            order_workers=args.order_workers,
            # one test card pays every checkout: antifraud's velocity limits would refuse most of them
            monolith_env={
                "PAYMENT_FRAUD_MAX_ATTEMPTS_PER_USER": "1000000",
                "PAYMENT_FRAUD_MAX_ATTEMPTS_PER_CARD": "1000000",
            },
            order_threads=args.order_threads,
            saga_consumers=(args.participants, args.orchestrators),
        ) as stack,
    ):
        customers = [(c.user_id, c.token) for c in stack.customers]
        products = [pid for pid, _, _ in stack.products]
        body = checkout_body(APPROVED)
        systems = {"monolith": stack.stack.monolith_url, "saga": stack.orders.url}
        console.print(
            f"[bold]{len(customers)} customers, {args.rounds} rounds, concurrency {args.concurrency}"
        )
        for number in range(args.rounds):
            for name, url in systems.items():
                outcomes, wall = run_round(
                    url,
                    customers,
                    product_for=lambda i: products[i % len(products)],
                    body_for=lambda i: body,
                    concurrency=args.concurrency,
                )
                result = figures(outcomes, wall)
                rounds[name].append(result)
                console.print(f"round {number + 1} {name:8} {result}")
    summary = {
        name: {k: median([r[k] for r in rs if r[k] is not None] or [0]) for k in rs[0] if k != "error_codes"}
        for name, rs in rounds.items()
    }
    table = Table("", "checkouts/s", "p50 ms", "p99 ms", "errors")
    for name, row in summary.items():
        table.add_row(
            name, str(row["checkouts_per_s"]), str(row["p50_ms"]), str(row["p99_ms"]), str(row["errors"])
        )
    console.print(table)
    saga, monolith = summary["saga"], summary["monolith"]
    return {
        "bench": "saga",
        "saga_checkouts_per_s": saga["checkouts_per_s"],
        "monolith_checkouts_per_s": monolith["checkouts_per_s"],
        "saga_p50_ms": saga["p50_ms"],
        "saga_p99_ms": saga["p99_ms"],
        "monolith_p50_ms": monolith["p50_ms"],
        "monolith_p99_ms": monolith["p99_ms"],
        "saga_errors": sum(r["errors"] for r in rounds["saga"]),
        "monolith_errors": sum(r["errors"] for r in rounds["monolith"]),
        "throughput_ratio": round(saga["checkouts_per_s"] / monolith["checkouts_per_s"], 3)
        if monolith["checkouts_per_s"]
        else None,
        "goal_met": saga["checkouts_per_s"] >= max(200.0, monolith["checkouts_per_s"]),
        "rounds": rounds,
        "customers": args.customers,
        "concurrency": args.concurrency,
        "saga_participant_consumers": args.participants,
        "saga_orchestrator_consumers": args.orchestrators,
        **run_facts(),
        **elapsed_since(started),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.saga", description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=200, help="customers (= checkouts per round)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--order-workers", type=int, default=2, help="gunicorn workers of the Order service")
    parser.add_argument("--order-threads", type=int, default=8)
    parser.add_argument(
        "--participants", type=int, default=4, help="copies of the saga's participant consumer"
    )
    parser.add_argument(
        "--orchestrators", type=int, default=2, help="copies of the saga's orchestrator consumer"
    )
    parser.add_argument("--var-dir", default=None)
    args = parser.parse_args(argv)
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        print("bench.saga: database_unavailable: set DATABASE_URL to a PostgreSQL server", file=sys.stderr)
        return 2
    report = run(args, Console(stderr=True))
    emit_json_line(report, OUTPUT)
    return 0


if __name__ == "__main__":
    sys.exit(main())
