"""make bench-shadow: what shadow mode costs the client, and how fast the comparator diffs pairs.

1. Client latency through the gateway (`python -m strangler_proxy`) on ONE shadow route (the monolith's
   product detail, gunicorn gthread, small seed), with the route's flag on (every request mirrored to a
   candidate and its pair published to the file queue) and off (nothing mirrored). Two gateways with the
   same routes file and their own flags file; wrk drives them in turns (on/off order alternating per
   repetition, the machine is noisy) and the medians over the repetitions are reported. The candidate is
   a small keep-alive server (bench/shadow_candidate.py)
   answering the same bytes, so the monolith's load is the same in both modes.
2. Comparator throughput: H4b's comparator (shadow.bench_support) on ~2 KB JSON pairs, decoded from their
   wire form as the worker does, on one core (this process pinned to one CPU).

Prints a table, writes var/bench/shadow.json and ends with that JSON on one stdout line.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from rich.console import Console
from rich.table import Table

from .gateway import _concurrencies, _positive_int
from .gateway_stack import (
    StackError,
    _first_product,
    database_prepare,
    gateway_bench_env,
    monolith_bench_env,
)
from .report import elapsed_since, emit_json_line, load_average, median, progress_bar, stack_env
from .wrk import WrkError, WrkResult, wrk_run

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/techstore_bench_shadow"
DEFAULT_OUTPUT = REPO_ROOT / "var" / "bench" / "shadow.json"
FLAG = "route.catalog.read"  # a bootstrap flag; the bench's shadow route uses it
MODES = ("off", "on")
GOAL_PAIRS_PER_SECOND = 2000
ROUTES = """\
upstreams:
  legacy: {legacy}
  candidate: {candidate}
defaults: {{legacy: legacy, timeout: 30, bulkhead: 200}}
routes:
  - id: catalog.detail
    methods: [GET]
    path: ^/api/v1/catalog/products/[0-9]+$
    target: candidate
    flag: {flag}
    mode: shadow
    shadow: {{timeout: 5, bulkhead: 100}}
"""


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.shadow", description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per wrk run (default 5)")
    parser.add_argument("--repetitions", type=_positive_int, default=3, help="rounds of every run (3)")
    parser.add_argument("--concurrency", type=_concurrencies, default=(1, 16), help="wrk connections (1,16)")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of warm-up per gateway (2)")
    parser.add_argument("--workers", type=_positive_int, default=1, help="gateway worker processes (1)")
    parser.add_argument("--products", type=_positive_int, default=50, help="products seeded (50)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--pairs", type=_positive_int, default=4000, help="pairs for the comparator (4000)")
    parser.add_argument("--skip-gateway", action="store_true", help="only the comparator throughput")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="where the JSON report goes")
    return parser.parse_args(argv)


# ---------------------------------------------------------------- the processes


@dataclass
class ShadowStack:
    product_path: str
    gateways: dict[str, str]  # mode -> base URL
    queues: dict[str, str]  # mode -> shadow queue URL


@contextlib.contextmanager
def running_stack(*, database_url: str, workers: int, log_dir: Path) -> Iterator[ShadowStack]:
    """The monolith, a static candidate serving the product's bytes, and two gateways (flag on / off)."""
    from flags.config import BOOTSTRAP_FILE
    from legacy_monolith.demo.processes import (
        ManagedProcess,
        ProcessStartError,
        free_port,
        monolith_process,
        python_argv,
    )

    prefix = Path(tempfile.mkdtemp(prefix="bench-shadow-"))
    started: list[ManagedProcess] = []

    def start(process: ManagedProcess) -> None:
        started.append(process)
        try:
            process.start(timeout=60)
        except ProcessStartError as exc:
            raise StackError(str(exc)) from exc

    def log(name: str) -> Path:
        return log_dir / f"shadow-bench.{name}.log"

    try:
        port = free_port()
        identity_key = secrets.token_urlsafe(32)  # shared with the gateways
        monolith_env = monolith_bench_env(database_url, identity_key=identity_key)
        monolith = monolith_process(port=port, env=monolith_env, log_path=log("monolith"))
        start(replace(monolith, ready_url=f"http://127.0.0.1:{port}/readyz"))
        monolith_url = f"http://127.0.0.1:{port}"
        product_path, body = _first_product(monolith_url)

        candidate_body = prefix / "product.json"
        candidate_body.write_bytes(body)
        candidate_port = free_port()
        argv = python_argv(
            "-m", "bench.shadow_candidate", "--port", str(candidate_port), "--body", str(candidate_body)
        )
        candidate_url = f"http://127.0.0.1:{candidate_port}"
        start(ManagedProcess("candidate", argv, candidate_url + product_path, log_path=log("candidate")))

        routes = prefix / "routes.yaml"
        routes.write_text(ROUTES.format(legacy=monolith_url, candidate=candidate_url, flag=FLAG))
        stack = ShadowStack(product_path, {}, {})
        for mode in MODES:
            features = json.loads(BOOTSTRAP_FILE.read_text())
            for feature in features["features"]:
                if feature["name"] == FLAG:
                    feature["enabled"] = mode == "on"
            flags_file = prefix / f"flags-{mode}.json"
            flags_file.write_text(json.dumps(features))
            queue_url = f"file://{prefix / f'queue-{mode}'}"
            port = free_port()
            argv = python_argv(
                "-m", "strangler_proxy", "--listen", f"127.0.0.1:{port}", "--workers", str(workers),
                "--upstream", monolith_url, "--routes", str(routes),
            )  # fmt: skip
            env = gateway_bench_env(
                monolith_url=monolith_url,
                flags_file=flags_file,
                identity_key=identity_key,
                prefix=prefix,
                name=mode,
            )
            env["SHADOW_QUEUE_URL"] = queue_url
            url = f"http://127.0.0.1:{port}"
            start(
                ManagedProcess(
                    f"gateway-{mode}", argv, url + product_path, env=env, log_path=log(f"gateway-{mode}")
                )
            )
            stack.gateways[mode] = url
            stack.queues[mode] = queue_url
        yield stack
    finally:
        for process in reversed(started):
            process.stop()
        shutil.rmtree(prefix, ignore_errors=True)


def queued_pairs(queue_url: str) -> int:
    """How many shadow pairs a gateway published (read and counted, not compared)."""
    from shadow.transport import consume

    return consume(queue_url, lambda raw: None, idle_timeout=1.0)


# ---------------------------------------------------------------- measuring


def gateway_processes(base_url: str) -> list:
    """The runner listening on `base_url` and its workers (psutil), to read the CPU they spend."""
    import psutil

    listen = base_url.removeprefix("http://")
    for process in psutil.process_iter(["cmdline"]):
        argv = process.info["cmdline"] or []
        if "strangler_proxy" in argv and listen in argv:
            return [process, *process.children(recursive=True)]
    raise StackError(f"no gateway process listens on {listen}")


def cpu_seconds(processes: list) -> float:
    import psutil

    total = 0.0
    for process in processes:
        with contextlib.suppress(psutil.NoSuchProcess):
            times = process.cpu_times()
            total += times.user + times.system
    return total


def measure_client(stack: ShadowStack, args: argparse.Namespace, err: Console) -> dict:
    """wrk against each gateway in turns; per run also the gateway's CPU per request (user + system of the
    runner and its workers), which the machine's noise disturbs far less than latency."""
    runs: dict[tuple[str, int], list[WrkResult]] = {}
    cpu: dict[tuple[str, int], list[float]] = {}
    processes = {mode: gateway_processes(url) for mode, url in stack.gateways.items()}
    with progress_bar(err, label_width=30, disable=args.no_progress) as progress:
        warm = progress.add_task("warm-up", total=len(MODES))
        for mode in MODES:
            progress.update(warm, description=f"warm-up shadow {mode}")
            wrk_run(stack.gateways[mode] + stack.product_path, connections=4, seconds=args.warmup)
            progress.advance(warm)
        total = args.repetitions * len(args.concurrency) * len(MODES)
        task = progress.add_task("measuring", total=total)
        for repetition in range(args.repetitions):
            for c in args.concurrency:
                order = MODES if repetition % 2 == 0 else MODES[::-1]
                for mode in order:
                    progress.update(task, description=f"#{repetition + 1} c={c} shadow {mode}")
                    cpu_before = cpu_seconds(processes[mode])
                    result = wrk_run(
                        stack.gateways[mode] + stack.product_path, connections=c, seconds=args.duration
                    )
                    runs.setdefault((mode, c), []).append(result)
                    spent = cpu_seconds(processes[mode]) - cpu_before
                    cpu.setdefault((mode, c), []).append(spent * 1000 / max(result.requests, 1))
                    progress.advance(task)
    results: dict = {}
    for (mode, c), rounds in runs.items():
        results.setdefault(f"c{c}", {})[mode] = {
            "rps": round(median([r.rps for r in rounds]), 1),
            "p50_ms": round(median([r.p50_ms for r in rounds]), 3),
            "p99_ms": round(median([r.p99_ms for r in rounds]), 3),
            "requests": sum(r.requests for r in rounds),
            "gateway_cpu_ms_per_request": round(median(cpu[(mode, c)]), 3),
            "errors": sum(r.errors for r in rounds),
            "runs": [r.as_dict() for r in rounds],
        }
    for figures in results.values():
        on, off = figures["on"], figures["off"]
        figures["added_p50_ms"] = round(on["p50_ms"] - off["p50_ms"], 3)
        figures["added_p99_ms"] = round(on["p99_ms"] - off["p99_ms"], 3)
        added_cpu = on["gateway_cpu_ms_per_request"] - off["gateway_cpu_ms_per_request"]
        figures["added_gateway_cpu_ms_per_request"] = round(added_cpu, 3)
    return results


def measure_comparator(pairs: int) -> dict:
    """Pairs/s of the comparator on one core (this process pinned to its first allowed CPU)."""
    from shadow.bench_support import make_pairs, measure_throughput

    allowed = sorted(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {allowed[0]})
    try:
        figures = measure_throughput(make_pairs(pairs), rounds=3, decode=True)
    finally:
        os.sched_setaffinity(0, set(allowed))
    figures["core"] = allowed[0]
    figures["goal_met"] = figures["pairs_per_second"] >= GOAL_PAIRS_PER_SECOND
    return figures


def table(client: dict, comparator: dict) -> Table:
    out = Table(title="Shadow bench: client latency through the gateway (medians) and comparator throughput")
    out.add_column("figure")
    out.add_column("shadow off", justify="right")
    out.add_column("shadow on", justify="right")
    out.add_column("on - off", justify="right")
    for key, figures in client.items():
        off, on = figures["off"], figures["on"]
        out.add_row(
            f"{key} p50 ms", f"{off['p50_ms']:.2f}", f"{on['p50_ms']:.2f}", f"{figures['added_p50_ms']:+.2f}"
        )
        out.add_row(
            f"{key} p99 ms", f"{off['p99_ms']:.2f}", f"{on['p99_ms']:.2f}", f"{figures['added_p99_ms']:+.2f}"
        )
        out.add_row(f"{key} req/s", f"{off['rps']:,.0f}", f"{on['rps']:,.0f}", "")
        out.add_row(
            f"{key} gateway CPU ms/request",
            f"{off['gateway_cpu_ms_per_request']:.3f}",
            f"{on['gateway_cpu_ms_per_request']:.3f}",
            f"{figures['added_gateway_cpu_ms_per_request']:+.3f}",
        )
    out.add_row(
        "comparator pairs/s (1 core)",
        "",
        f"{comparator['pairs_per_second']:,.0f}",
        f"goal >= {GOAL_PAIRS_PER_SECOND}",
    )
    return out


# ---------------------------------------------------------------- main


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("DATABASE_URL", DEFAULT_DATABASE_URL)
    database_url = os.environ["DATABASE_URL"]
    out, err = Console(width=120), Console(stderr=True)
    load_before = load_average()
    started = time.monotonic()
    client: dict = {}
    published: dict[str, int] = {}
    product_path = None
    if not args.skip_gateway:
        try:
            err.print(f"• preparing the bench database ({args.products} products, seed {args.seed})")
            database_prepare(database_url, products=args.products, seed=args.seed)
            err.print("• starting the monolith, the candidate and two gateways (shadow on / off)")
            with running_stack(
                database_url=database_url, workers=args.workers, log_dir=args.output.parent
            ) as stack:
                product_path = stack.product_path
                err.print(f"• measuring GET {product_path}; logs in {args.output.parent}/shadow-bench.*.log")
                client = measure_client(stack, args, err)
                published = {mode: queued_pairs(url) for mode, url in stack.queues.items()}
        except (StackError, WrkError) as exc:
            err.print(f"[red]bench failed:[/red] {exc}")
            return 2
    err.print(f"• comparator: {args.pairs} pairs of ~2 KB JSON, decoded and compared on one core")
    comparator = measure_comparator(args.pairs)

    out.print(table(client, comparator))
    report = {
        "bench": "shadow",
        "client": client,
        "pairs_published": published,
        "comparator": comparator,
        "comparator_pairs_per_second": comparator["pairs_per_second"],
        "goals": {
            "client_latency": "no measurable difference between shadow on and off",
            "comparator_pairs_per_second": f">= {GOAL_PAIRS_PER_SECOND}",
        },
        "endpoint": product_path,
        "settings": {
            "duration_s": args.duration,
            "repetitions": args.repetitions,
            "concurrency": list(args.concurrency),
            "warmup_s": args.warmup,
            "gateway_workers": args.workers,
            "products": args.products,
            "pairs": args.pairs,
            "queue": "file queue (embedded profile)",
            "candidate": "bench/shadow_candidate.py: aiohttp, keep-alive, the product's bytes",
        },
        "env": stack_env(load_before),
        **elapsed_since(started),
    }
    errors = sum(figures[mode]["errors"] for figures in client.values() for mode in MODES)
    if errors:
        err.print(f"[red]{errors} requests failed (non-2xx or socket errors): the figures are suspect[/red]")
    for key, figures in client.items():
        err.print(
            f"{key}: p50 {figures['off']['p50_ms']:.2f} -> {figures['on']['p50_ms']:.2f} ms "
            f"({figures['added_p50_ms']:+.2f}), p99 {figures['off']['p99_ms']:.2f} -> "
            f"{figures['on']['p99_ms']:.2f} ms ({figures['added_p99_ms']:+.2f}); gateway CPU per request "
            f"{figures['off']['gateway_cpu_ms_per_request']:.3f} -> "
            f"{figures['on']['gateway_cpu_ms_per_request']:.3f} ms"
        )
    if published:
        err.print(f"pairs published: on {published.get('on')}, off {published.get('off')} (must be 0)")
    err.print(
        f"comparator: {comparator['pairs_per_second']:,.0f} pairs/s on one core "
        f"(goal >= {GOAL_PAIRS_PER_SECOND}; mean body {comparator['mean_body_bytes']} B)"
    )
    emit_json_line(report, args.output)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
