"""make bench-gateway: our gateway against direct, nginx and stock mitmdump, interleaved in one run.

Two upstreams: the monolith's product detail (GET /api/v1/catalog/products/<id>, gunicorn gthread, small seed)
and a static nginx origin serving the same bytes. Six configs in front of each: direct, nginx as reverse
proxy (the reference), stock `mitmdump --mode reverse`, the lean master with no addon (`python -m
strangler_proxy --addons passthrough`), our gateway (`python -m strangler_proxy`), and the same gateway
serving HTTPS (TLS 1.3, a configured certificate: the TLS figure, `gateway_tls_*`). wrk drives each
(config, upstream) at concurrency 1, 16 and 64 with keep-alive; the configs take turns (round-robin) within
each repetition, because the machine is noisy, and the medians over the repetitions are reported.

CPU per request: the user + system time of all the proxy's processes over each wrk run (from /proc, by
process group), divided by the requests it served (`*_cpu_us_per_req`, headline at c=16). nginx's figure on
the static upstream is net of the origin (the same nginx serves both; the origin's own CPU per request is
the direct run's).
Prints a table, writes var/bench/gateway.json and ends with that JSON on one stdout line.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.table import Table

from .gateway_stack import CONFIGS, UPSTREAMS, Stack, StackError, database_prepare, gateway_addon_names
from .proc_cpu import cpu_us_per_request, group_cpu_seconds
from .report import elapsed_since, emit_json_line, load_average, median, progress_bar, stack_env
from .wrk import WrkError, WrkResult, wrk_run

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/techstore_bench_gateway"
DEFAULT_OUTPUT = REPO_ROOT / "var" / "bench" / "gateway.json"
GOAL_SHARE_OF_NGINX = 0.5  # gateway req/s at c=16 on the monolith, as a share of nginx's
GOAL_ADDED_P50_MS = 1.0  # gateway p50 minus direct p50 at c=1 on the monolith
FLOOR_TIMES_STOCK = 3.0  # gateway req/s at c=16 on the monolith, as a multiple of stock mitmdump's
GOAL_CHAIN_TIMES_LEAN_CPU = (
    1.3  # gateway CPU per request, as a multiple of the lean master's (both upstreams)
)
GOAL_GATEWAY_CPU_US = 800.0  # gateway CPU per request on the product detail
GOAL_STATIC_TIMES_STOCK = 3.0  # gateway req/s at c=16 on the static origin, as a multiple of stock mitmdump's
CPU_AT = 16  # the concurrency of the headline CPU figures


def _positive_int(raw: str) -> int:
    value = int(raw)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _concurrencies(raw: str) -> tuple[int, ...]:
    try:
        values = tuple(int(part) for part in raw.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{raw!r}: expected numbers such as 1,16,64") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"{raw!r}: every concurrency must be at least 1")
    return values


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.gateway", description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per wrk run (default 5)")
    parser.add_argument("--repetitions", type=_positive_int, default=3, help="rounds of every run (3)")
    parser.add_argument(
        "--concurrency", type=_concurrencies, default=(1, 16, 64), help="wrk connections (1,16,64)"
    )
    parser.add_argument(
        "--quick", action="store_true", help="a smoke run: 2 s per run, one repetition (figures are rough)"
    )
    parser.add_argument(
        "--workers", type=_positive_int, default=None, help="gateway worker processes (default: CPU count)"
    )
    parser.add_argument("--products", type=_positive_int, default=200, help="products to seed (200)")
    parser.add_argument("--seed", type=int, default=42, help="seed of the data (42)")
    parser.add_argument("--warmup", type=float, default=2.0, help="unmeasured seconds per config (2)")
    parser.add_argument(
        "--gateway-arg",
        action="append",
        default=[],
        metavar="ARG",
        help="extra argument for python -m strangler_proxy (repeatable), e.g. --gateway-arg=--loop=asyncio",
    )
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="where the JSON figures go")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    if args.quick:
        args.duration, args.repetitions, args.warmup = 2.0, 1, 1.0
    return args


# ---------------------------------------------------------------- measuring


Runs = dict[tuple[str, str, int], list[tuple[WrkResult, float]]]  # (upstream, config, c) -> (run, CPU s)


def measure(stack: Stack, args: argparse.Namespace, err: Console) -> Runs:
    """Every (upstream, config, concurrency), round-robin over configs, `repetitions` times; each wrk run
    with the CPU seconds the config's processes used during it."""
    runs: Runs = {}
    order = [(c, upstream, config) for c in args.concurrency for upstream in UPSTREAMS for config in CONFIGS]
    with progress_bar(err, label_width=34, disable=args.no_progress) as progress:
        warm = progress.add_task("warm-up", total=len(UPSTREAMS) * len(CONFIGS))
        for upstream in UPSTREAMS:
            for config in CONFIGS:
                progress.update(warm, description=f"warm-up {config} -> {upstream}")
                wrk_run(stack.url(config, upstream), connections=16, seconds=args.warmup)
                progress.advance(warm)
        task = progress.add_task("measuring", total=len(order) * args.repetitions)
        for repetition in range(args.repetitions):
            for c, upstream, config in order:
                progress.update(task, description=f"#{repetition + 1} c={c} {config} -> {upstream}")
                group = stack.groups[(config, upstream)]
                cpu_before = group_cpu_seconds(group)
                result = wrk_run(stack.url(config, upstream), connections=c, seconds=args.duration)
                cpu = group_cpu_seconds(group) - cpu_before
                runs.setdefault((upstream, config, c), []).append((result, cpu))
                progress.advance(task)
    return runs


def idle_cpu(stack: Stack, seconds: float) -> dict[str, float]:
    """Each config's CPU with no request at all, in ms per second (timers, polls, flag reloads): part of
    every CPU-per-request figure, so a low request rate inflates it."""
    groups = sorted(set(stack.groups.values()))
    before = {group: group_cpu_seconds(group) for group in groups}
    time.sleep(seconds)
    used = {group: group_cpu_seconds(group) - before[group] for group in groups}
    return {
        f"{config}/{upstream}": round(used[group] * 1000 / seconds, 2)
        for (config, upstream), group in stack.groups.items()
    }


def summarize(runs: Runs) -> dict:
    """Medians per (upstream, config, concurrency), plus every run's figures. nginx's CPU on the static
    upstream is net of the origin's (same processes): its CPU per request minus the direct run's, per
    repetition."""
    results: dict = {}
    for (upstream, config, c), measured in runs.items():
        rounds = [r for r, _ in measured]
        cpu = [cpu_us_per_request(seconds, r.requests) for r, seconds in measured]
        if (upstream, config) == ("static", "nginx"):
            origin = [cpu_us_per_request(s, r.requests) for r, s in runs.get(("static", "direct", c), [])]
            cpu = [
                a - b if a is not None and b is not None else None for a, b in zip(cpu, origin, strict=False)
            ]
        known = [x for x in cpu if x is not None]
        results.setdefault(upstream, {}).setdefault(config, {})[f"c{c}"] = {
            "rps": round(median([r.rps for r in rounds]), 1),
            "p50_ms": round(median([r.p50_ms for r in rounds]), 3),
            "p99_ms": round(median([r.p99_ms for r in rounds]), 3),
            "cpu_us_per_req": round(median(known), 1) if known else None,
            "errors": sum(r.errors for r in rounds),
            "runs": [{**r.as_dict(), "cpu_us_per_req": x} for r, x in zip(rounds, cpu, strict=True)],
        }
    return results


def headline(results: dict) -> dict:
    """The figures the issue asks for (monolith endpoint), their ratios, and the goals met or not."""
    mono = results["monolith"]

    def fig(config: str, c: int, key: str, upstream: dict = mono) -> float | None:
        return upstream.get(config, {}).get(f"c{c}", {}).get(key)

    def ratio(a: float | None, b: float | None) -> float | None:
        return round(a / b, 3) if a is not None and b else None

    def added(config: str) -> float | None:
        p50, direct = fig(config, 1, "p50_ms"), fig("direct", 1, "p50_ms")
        return round(p50 - direct, 3) if p50 is not None and direct is not None else None

    out = {
        "gateway_rps_c16": fig("gateway", 16, "rps"),
        "stock_mitmdump_rps_c16": fig("stock_mitmdump", 16, "rps"),
        "nginx_rps_c16": fig("nginx", 16, "rps"),
        "direct_rps_c16": fig("direct", 16, "rps"),
        "gateway_added_p50_ms_c1": added("gateway"),
        "nginx_added_p50_ms_c1": added("nginx"),
        "stock_mitmdump_added_p50_ms_c1": added("stock_mitmdump"),
    }
    out["gateway_vs_nginx_rps_c16"] = ratio(out["gateway_rps_c16"], out["nginx_rps_c16"])
    out["gateway_vs_stock_mitmdump_rps_c16"] = ratio(out["gateway_rps_c16"], out["stock_mitmdump_rps_c16"])
    out["gateway_vs_direct_rps_c16"] = ratio(out["gateway_rps_c16"], out["direct_rps_c16"])
    # TLS 1.3 at the edge: the same gateway serving HTTPS, measured in the same run, against plain HTTP
    out["gateway_tls_rps_c16"] = fig("gateway_tls", 16, "rps")
    out["gateway_tls_vs_plain_rps_c16"] = ratio(out["gateway_tls_rps_c16"], out["gateway_rps_c16"])
    tls_p50, plain_p50 = fig("gateway_tls", 1, "p50_ms"), fig("gateway", 1, "p50_ms")
    out["gateway_tls_added_p50_ms_c1"] = (
        round(tls_p50 - plain_p50, 3) if tls_p50 is not None and plain_p50 is not None else None
    )
    static = results.get("static", {})
    out["static_gateway_rps_c16"] = fig("gateway", 16, "rps", static)
    out["static_stock_mitmdump_rps_c16"] = fig("stock_mitmdump", 16, "rps", static)
    out["static_nginx_rps_c16"] = fig("nginx", 16, "rps", static)
    out["static_gateway_vs_stock_mitmdump_rps_c16"] = ratio(
        out["static_gateway_rps_c16"], out["static_stock_mitmdump_rps_c16"]
    )
    # CPU per request (the user + system time of all the proxy's processes), at c=CPU_AT
    for prefix, upstream in (("", mono), ("static_", static)):
        for config in ("stock_mitmdump", "lean", "gateway", "nginx"):
            out[f"{prefix}{config}_cpu_us_per_req"] = fig(config, CPU_AT, "cpu_us_per_req", upstream)
        out[f"{prefix}gateway_vs_lean_cpu"] = ratio(
            out[f"{prefix}gateway_cpu_us_per_req"], out[f"{prefix}lean_cpu_us_per_req"]
        )
        out[f"{prefix}gateway_vs_stock_mitmdump_cpu"] = ratio(
            out[f"{prefix}gateway_cpu_us_per_req"], out[f"{prefix}stock_mitmdump_cpu_us_per_req"]
        )
    share, times, added_ms = (
        out["gateway_vs_nginx_rps_c16"],
        out["gateway_vs_stock_mitmdump_rps_c16"],
        out["gateway_added_p50_ms_c1"],
    )
    out["goal_half_nginx_rps_c16_met"] = share is not None and share >= GOAL_SHARE_OF_NGINX
    out["goal_added_p50_c1_met"] = added_ms is not None and added_ms <= GOAL_ADDED_P50_MS
    out["floor_3x_stock_mitmdump_met"] = times is not None and times >= FLOOR_TIMES_STOCK
    chain = (out["gateway_vs_lean_cpu"], out["static_gateway_vs_lean_cpu"])
    out["goal_chain_cpu_within_1_3x_lean_met"] = all(
        x is not None and x <= GOAL_CHAIN_TIMES_LEAN_CPU for x in chain
    )
    gateway_cpu = out["gateway_cpu_us_per_req"]
    out["goal_gateway_cpu_0_8ms_met"] = gateway_cpu is not None and gateway_cpu <= GOAL_GATEWAY_CPU_US
    static_times = out["static_gateway_vs_stock_mitmdump_rps_c16"]
    out["goal_static_3x_stock_mitmdump_met"] = (
        static_times is not None and static_times >= GOAL_STATIC_TIMES_STOCK
    )
    return out


def table(results: dict, concurrencies: Sequence[int]) -> Table:
    out = Table(title="Gateway bench: req/s · p50 ms · p99 ms · CPU µs/request (medians of the repetitions)")
    out.add_column("upstream")
    out.add_column("config")
    for c in concurrencies:
        out.add_column(f"c={c}", justify="right")
    for upstream in UPSTREAMS:
        for config in CONFIGS:
            cells = []
            for c in concurrencies:
                f = results.get(upstream, {}).get(config, {}).get(f"c{c}")
                if f is None:
                    cells.append("-")
                    continue
                flag = f" [red]{f['errors']} err[/red]" if f["errors"] else ""
                cpu = "-" if f.get("cpu_us_per_req") is None else f"{f['cpu_us_per_req']:,.0f}"
                cells.append(f"{f['rps']:,.0f} · {f['p50_ms']:.2f} · {f['p99_ms']:.2f} · {cpu}{flag}")
            out.add_row(upstream, config, *cells)
    return out


# ---------------------------------------------------------------- main


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("DATABASE_URL", DEFAULT_DATABASE_URL)
    database_url = os.environ["DATABASE_URL"]
    out, err = Console(width=140), Console(stderr=True)
    workers = args.workers or len(os.sched_getaffinity(0))
    load_before = load_average()
    started = time.monotonic()
    # Imported late: the stack pulls in the monolith's process helpers.
    from .gateway_stack import running_stack

    try:
        err.print(f"• preparing the bench database ({args.products} products, seed {args.seed})")
        database_prepare(database_url, products=args.products, seed=args.seed)
        err.print("• starting the monolith, nginx, stock mitmdump and the gateway")
        with running_stack(
            database_url=database_url,
            gateway_workers=workers,
            log_dir=args.output.parent,
            gateway_args=tuple(args.gateway_arg),
        ) as stack:
            err.print(
                f"• measuring GET {stack.product_path}; logs in {args.output.parent}/gateway-bench.*.log"
            )
            idle = idle_cpu(stack, seconds=args.warmup + 1)
            runs = measure(stack, args, err)
            versions = stack.versions
            product_path = stack.product_path
    except (StackError, WrkError) as exc:
        err.print(f"[red]bench failed:[/red] {exc}")
        return 2

    results = summarize(runs)
    out.print(table(results, args.concurrency))
    summary = headline(results)
    report = {
        "bench": "gateway",
        **summary,
        "results": results,
        "endpoint": product_path,
        "idle_cpu_ms_per_s": idle,
        "goals": {
            "gateway_vs_nginx_rps_c16": f">= {GOAL_SHARE_OF_NGINX}",
            "gateway_added_p50_ms_c1": f"<= {GOAL_ADDED_P50_MS}",
            "gateway_vs_stock_mitmdump_rps_c16": f">= {FLOOR_TIMES_STOCK} (floor)",
            "gateway_vs_lean_cpu": f"<= {GOAL_CHAIN_TIMES_LEAN_CPU} (monolith and static, c={CPU_AT})",
            "gateway_cpu_us_per_req": f"<= {GOAL_GATEWAY_CPU_US} (monolith, c={CPU_AT})",
            "static_gateway_vs_stock_mitmdump_rps_c16": f">= {GOAL_STATIC_TIMES_STOCK}",
        },
        "settings": {
            "duration_s": args.duration,
            "repetitions": args.repetitions,
            "concurrency": list(args.concurrency),
            "warmup_s": args.warmup,
            "products": args.products,
            "gateway_workers": workers,
            "gateway_args": args.gateway_arg,
            "gateway_addons": gateway_addon_names(),
            "monolith": "gunicorn gthread, 2 workers x 4 threads, DEBUG off",
            "stock_mitmdump": "mitmdump -q --mode reverse:<upstream> (defaults otherwise)",
            "lean": "python -m strangler_proxy --addons passthrough (same workers, no addon)",
            "cpu": f"user + system time of the config's process group over each run / requests (c={CPU_AT})",
            "nginx": "reverse proxy, keep-alive upstream pool (keepalive 64), worker_processes = CPU count",
        },
        "env": {**stack_env(load_before), **versions},
        **elapsed_since(started),
    }
    errors = sum(
        f["errors"] for per_config in results.values() for cs in per_config.values() for f in cs.values()
    )
    if errors:
        err.print(f"[red]{errors} requests failed (non-2xx or socket errors): the figures are suspect[/red]")
    s = summary
    err.print(
        f"gateway at c=16 on the monolith: {s['gateway_rps_c16']} req/s = "
        f"{s['gateway_vs_nginx_rps_c16']} x nginx "
        f"(goal >= {GOAL_SHARE_OF_NGINX}), {s['gateway_vs_stock_mitmdump_rps_c16']} x stock mitmdump "
        f"(floor >= {FLOOR_TIMES_STOCK}); added p50 at c=1: {s['gateway_added_p50_ms_c1']} ms "
        f"(goal <= {GOAL_ADDED_P50_MS})"
    )
    err.print(
        f"TLS 1.3 at the edge, same run: {s['gateway_tls_rps_c16']} req/s at c=16 = "
        f"{s['gateway_tls_vs_plain_rps_c16']} x plain HTTP; "
        f"added p50 at c=1: {s['gateway_tls_added_p50_ms_c1']} ms"
    )
    err.print(
        f"CPU per request at c={CPU_AT}, monolith: gateway {s['gateway_cpu_us_per_req']} µs "
        f"(goal <= {GOAL_GATEWAY_CPU_US:.0f}), lean {s['lean_cpu_us_per_req']} µs, chain/lean "
        f"{s['gateway_vs_lean_cpu']} (goal <= {GOAL_CHAIN_TIMES_LEAN_CPU}), stock mitmdump "
        f"{s['stock_mitmdump_cpu_us_per_req']} µs, nginx {s['nginx_cpu_us_per_req']} µs; static: chain/lean "
        f"{s['static_gateway_vs_lean_cpu']}, gateway {s['static_gateway_vs_stock_mitmdump_rps_c16']} x stock "
        f"req/s (goal >= {GOAL_STATIC_TIMES_STOCK})"
    )
    emit_json_line(report, args.output)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
