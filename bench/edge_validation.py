"""make bench-edge-validation: what strict payload validation costs the gateway per request.

The RequestGuard's canonical request and the PayloadValidation addon's contract check are timed in process
on the shipped contracts (a login body against the Auth service's document, a product listing's query
against the Product service's), side by side with the same request not validated (the baseline: finding
no contract for the route). Medians of `--rounds` rounds of `--requests` calls each, in microseconds per
request; ends with one JSON line (also written to var/bench/edge_validation.json).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from .report import emit_json_line, median, run_facts

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUTPUT = REPO_ROOT / "var" / "bench" / "edge_validation.json"
DOCUMENTS = REPO_ROOT / "strangler_proxy" / "openapi"


def per_call_us(call: Callable[[], object], count: int, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(count):
            call()
        times.append((time.perf_counter() - started) / count * 1e6)
    return round(median(times), 3)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.edge_validation", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--requests", type=int, default=20_000, help="calls per round (20000)")
    parser.add_argument("--rounds", type=int, default=7, help="rounds; the median is reported (7)")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)

    from strangler_proxy.canonical import canonical_target, header_problem
    from strangler_proxy.openapi_validation import compile_checks, find

    started = time.perf_counter()
    auth = compile_checks(str(DOCUMENTS / "auth.yaml"), "api_v1_accounts_create")
    product = compile_checks(str(DOCUMENTS / "product.yaml"))
    compile_ms = round((time.perf_counter() - started) * 1000, 1)
    fields = tuple((name.encode(), value.encode()) for name, value in (
        ("Host", "shop.techstore.example"), ("User-Agent", "bench"), ("Accept", "application/json"),
        ("Content-Type", "application/json"), ("Content-Length", "40"), ("X-Request-ID", "r" * 32),
    ))  # fmt: skip
    body = b'{"username": "ada@example.com", "password": "correct horse"}'

    def login() -> object:
        target = canonical_target("/api/v1/accounts/login")
        check, match = find(auth, "POST", target.route_path)
        return check.problems(match, target.query, "application/json", body)

    def listing() -> object:
        target = canonical_target(
            "/api/v1/catalog/products?page=2&page_size=20&ordering=-price&in_stock=true"
        )
        check, match = find(product, "GET", target.route_path)
        return check.problems(match, target.query, "", None)

    def baseline() -> object:
        target = canonical_target(
            "/api/v1/catalog/products?page=2&page_size=20&ordering=-price&in_stock=true"
        )
        return find((), "GET", target.route_path)

    figures = {
        "baseline_us": per_call_us(baseline, args.requests, args.rounds),
        "canonical_headers_us": per_call_us(lambda: header_problem(fields), args.requests, args.rounds),
        "login_body_us": per_call_us(login, args.requests, args.rounds),
        "listing_query_us": per_call_us(listing, args.requests, args.rounds),
    }
    report = {
        "bench": "edge_validation",
        **figures,
        "login_added_us": round(figures["login_body_us"] - figures["baseline_us"], 3),
        "listing_added_us": round(figures["listing_query_us"] - figures["baseline_us"], 3),
        "compile_ms": compile_ms,
        "settings": {"requests": args.requests, "rounds": args.rounds},
        "env": run_facts(),
    }
    for name, value in figures.items():
        print(f"{name:24} {value:10.3f} us per request")
    print(emit_json_line(report, args.output))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
