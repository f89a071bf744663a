"""`make bench-payments`: card charges through the Payment service (asynchronous: 202, then its worker)
against the monolith's synchronous charge, side by side in one run on one stack with the same sandbox
latency, and the shadow comparator's pairs per second on payment pairs.

The stack, all real processes: the monolith under gunicorn on a throwaway PostgreSQL database, the sandbox
card gateways (`latency_ms` set on every operation), a RabbitMQ virtual host, the Payment service under
gunicorn (same workers x threads as the monolith) with its Celery worker and outbox relay on its own
throwaway database, antifraud velocity counters in Redis when REDIS_URL is set. Each charge does the same
work on both sides (bench/payment_load.py): tokenize, antifraud, authorize, capture. Unmeasured warm-up
charges first, then rounds alternating monolith, service, monolith, service...; every round is `--charges`
charges, `--concurrency` callers each waiting for its outcome; figures are medians over rounds.

Ends with one JSON line (also var/bench/payments.json). Goal: the service sustains at least 2x the
monolith's charge throughput at a lower p99.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
import uuid
from pathlib import Path

import psycopg2
import requests
from rich.console import Console
from rich.table import Table

from contracts import cli
from legacy_monolith.demo.payments import running_payment_service
from legacy_monolith.demo.services import rabbitmq_vhost, throwaway_database
from legacy_monolith.demo.stack import running_stack

from .payment_load import (
    Charge,
    OutcomeWatcher,
    monolith_charge,
    run_charges,
    service_charge,
    service_timings,
)
from .payment_pairs import make_payment_pairs
from .proc_cpu import group_cpu_seconds
from .report import REPO_ROOT, elapsed_since, emit_json_line, load_average, median, progress_bar, run_facts
from .stats import percentile

OUTPUT = REPO_ROOT / "var" / "bench" / "payments.json"
SYSTEMS = ("monolith", "service")
# One test card pays every charge: the velocity rules would refuse most of them (both sides alike).
NO_VELOCITY_LIMITS = {
    "PAYMENT_FRAUD_MAX_ATTEMPTS_PER_USER": "1000000",
    "PAYMENT_FRAUD_MAX_ATTEMPTS_PER_CARD": "1000000",
    "PAYMENT_FRAUD_MAX_CARDS_PER_USER": "1000000",
}
PEOPLE = (
    "SELECT (SELECT array_agg(id ORDER BY id) FROM (SELECT id FROM accounts_user WHERE role = 'customer' "
    "AND is_active ORDER BY id LIMIT %s) AS customers), (SELECT min(id) FROM catalog_product)"
)


def parse_args(argv):
    parser = cli.ArgumentParser(prog="python -m bench.payments", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--charges", type=cli.positive_int, default=400, help="charges per round and side (400)"
    )
    parser.add_argument("--rounds", type=cli.positive_int, default=3, help="rounds per side (3)")
    parser.add_argument("--concurrency", type=cli.positive_int, default=16, help="callers at a time (16)")
    parser.add_argument("--warmup", type=cli.count, default=20, help="unmeasured charges per side first (20)")
    parser.add_argument(
        "--latency-ms", type=cli.count, default=100, help="sandbox latency on every provider call (100)"
    )
    parser.add_argument("--workers", type=cli.positive_int, default=2, help="gunicorn workers, each side (2)")
    parser.add_argument("--threads", type=cli.positive_int, default=4, help="gunicorn threads, each side (4)")
    parser.add_argument(
        "--worker-concurrency", type=cli.positive_int, default=8, help="threads of each Celery worker (8)"
    )
    # As many worker processes as each side's gunicorn has: the worker does most of a charge's work, and one
    # process is held to one core by the GIL (and to one process's share of a busy machine).
    parser.add_argument(
        "--worker-processes",
        type=cli.positive_int,
        default=2,
        help="the Payment service's Celery workers (2)",
    )
    parser.add_argument("--customers", type=cli.positive_int, default=20, help="customers paying (20)")
    parser.add_argument("--pairs", type=cli.positive_int, default=4000, help="payment pairs compared (4000)")
    parser.add_argument("--var-dir", type=Path, default=None, help="logs (default var/bench-payments)")
    parser.add_argument("--output", type=Path, default=OUTPUT, help="where the JSON report goes")
    cli.add_no_progress(parser)
    return parser.parse_args(argv)


def figures(charges: list[Charge], wall: float) -> dict:
    ok = [c for c in charges if c.ok and c.done_s is not None]

    def ms(values: list[float], p: float) -> float | None:
        return round(percentile(values, p) * 1000, 1) if values else None

    done = [c.done_s for c in ok]
    authorized = [c.authorized_s for c in ok if c.authorized_s is not None]
    accept = [c.accept_s for c in charges]
    return {
        "charges": len(charges),
        "ok": len(ok),
        "errors": len(charges) - len(ok),
        "charges_per_s": round(len(ok) / wall, 1) if wall else 0.0,
        "p50_ms": ms(done, 50),
        "p99_ms": ms(done, 99),
        "authorized_p50_ms": ms(authorized, 50),
        "authorized_p99_ms": ms(authorized, 99),
        "first_answer_p50_ms": ms(accept, 50),
        "first_answer_p99_ms": ms(accept, 99),
        "wall_s": round(wall, 2),
        "first_error": next((c.error for c in charges if not c.ok), ""),
    }


@contextlib.contextmanager
def payments_stack(args, var_dir: Path, console: Console):
    """The monolith (with the sandbox) and the Payment service, both against the same sandbox."""
    seed = ("--users", str(args.customers + 3), "--products", "5", "--orders", "0", "--seed", "11")
    service_env = {
        **NO_VELOCITY_LIMITS,
        "REDIS_URL": os.environ.get("REDIS_URL", ""),
        "PAYMENT_VELOCITY_PREFIX": f"bench-payments:{uuid.uuid4().hex[:8]}:velocity",
    }
    with (
        throwaway_database("techstore_bench_payments") as database_url,
        running_stack(
            database_url=database_url,
            var_dir=var_dir / "monolith",
            seed_args=seed,
            extra_env=NO_VELOCITY_LIMITS,
            on_phase=lambda phase: console.print(f"• {phase}"),
            workers=args.workers,
            threads=args.threads,
        ) as stack,
        rabbitmq_vhost("strangler_bench_payments") as broker_url,
    ):
        console.print(
            f"• starting the Payment service (workers: {args.worker_processes} x "
            f"{args.worker_concurrency} threads)"
        )
        with running_payment_service(
            var_dir=var_dir / "payments",
            sandbox_url=stack.sandbox_url,
            broker_url=broker_url,
            env=service_env,
            workers=args.workers,
            threads=args.threads,
            worker_concurrency=args.worker_concurrency,
            worker_processes=args.worker_processes,
            relay=True,
            database_prefix="payment_bench",
        ) as payments:
            answer = requests.put(
                f"{stack.sandbox_url}/_sandbox/gateways/cardinal",
                json={"latency_ms": args.latency_ms},
                timeout=5,
            )
            answer.raise_for_status()
            yield stack, payments


def process_groups(stack, payments) -> dict[str, int]:
    """The process group of every process a charge runs through (each started in its own session)."""
    wanted = {
        "monolith": f"127.0.0.1:{stack.monolith_url.rsplit(':', 1)[1]}",
        "sandbox": f"--port {stack.sandbox_url.rsplit(':', 1)[1]}",
    }
    groups = {"service_web": payments.process._proc.pid}
    for child in payments.children:  # worker (one or more), beat, relay_outbox
        name = f"service_{child.args[3]}"
        groups[name if name not in groups else f"{name}_{child.pid}"] = child.pid
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        for name, needle in wanted.items():
            if needle in argv and name not in groups:
                groups[name] = os.getpgid(int(entry.name))
    return groups


def cpu_snapshot(groups: dict[str, int]) -> dict[str, float]:
    return {name: group_cpu_seconds(pgid) for name, pgid in groups.items()}


def cpu_per_charge(before: dict[str, float], after: dict[str, float], charges: int) -> dict[str, float]:
    """CPU milliseconds per charge of each process group over a round (the figure a loaded machine
    disturbs least: what each charge costs, whoever else runs)."""
    return {name: round((after[name] - before[name]) * 1000 / charges, 2) for name in before}


def people(stack, count: int) -> tuple[list[int], int]:
    """The seeded customers who pay, and a product for the order documents the monolith keeps."""
    conn = psycopg2.connect(stack.env["DATABASE_URL"])
    try:
        with conn.cursor() as cursor:
            cursor.execute(PEOPLE, [count])
            users, product = cursor.fetchone()
    finally:
        conn.close()
    return users, product


def run(args, console: Console) -> dict:
    started = time.monotonic()
    var_dir = args.var_dir or REPO_ROOT / "var" / "bench-payments"
    var_dir.mkdir(parents=True, exist_ok=True)
    rounds: dict[str, list[dict]] = {name: [] for name in SYSTEMS}
    with payments_stack(args, var_dir, console) as (stack, payments):
        users, product = people(stack, args.customers)
        groups = process_groups(stack, payments)
        run_id = uuid.uuid4().hex[:4].upper()
        with OutcomeWatcher(payments.database_url) as watcher:

            def charger(name: str, label: str):
                def one(i: int) -> Charge:
                    number, user = f"PB{run_id}{label}{i:06d}", users[i % len(users)]
                    if name == "monolith":
                        return monolith_charge(
                            stack.monolith_url,
                            payments.token,
                            number=number,
                            user_id=user,
                            product_id=product,
                        )
                    return service_charge(payments.url, payments.token, watcher, number=number, user_id=user)

                return one

            for name in SYSTEMS:
                if args.warmup:
                    console.print(f"• warm-up: {args.warmup} {name} charges")
                    run_charges(
                        charger(name, f"W{name[0].upper()}"), args.warmup, concurrency=args.concurrency
                    )
            load_before = load_average()
            with progress_bar(console, label_width=10, disable=args.no_progress) as progress:
                task = progress.add_task("rounds", total=args.rounds * len(SYSTEMS))
                for number in range(args.rounds):
                    for name in SYSTEMS:
                        progress.update(task, description=f"{name} {number + 1}")
                        before = cpu_snapshot(groups)
                        charges, wall = run_charges(
                            charger(name, f"{name[0].upper()}{number}"),
                            args.charges,
                            concurrency=args.concurrency,
                        )
                        cpu = cpu_per_charge(before, cpu_snapshot(groups), args.charges)
                        if name == "service":
                            service_timings(payments.database_url, charges)
                        rounds[name].append({**figures(charges, wall), "cpu_ms_per_charge": cpu})
                        progress.console.print(
                            f"round {number + 1} {name:8} {_brief(name, rounds[name][-1])}"
                        )
                        progress.advance(task)
    console.print(f"• comparator: {args.pairs} payment pairs, decoded and compared on one core")
    comparator = measure_comparator(args.pairs)
    summary = {name: _medians(rs) for name, rs in rounds.items()}
    service, monolith = summary["service"], summary["monolith"]
    ratio = (
        round(service["charges_per_s"] / monolith["charges_per_s"], 2) if monolith["charges_per_s"] else None
    )
    lower_p99 = (
        service["p99_ms"] is not None
        and monolith["p99_ms"] is not None
        and service["p99_ms"] < monolith["p99_ms"]
    )
    errors = {name: sum(r["errors"] for r in rs) for name, rs in rounds.items()}
    cpu = {name: own_cpu(name, summary[name]["cpu_ms_per_charge"]) for name in SYSTEMS}
    console.print(summary_table(summary, errors, comparator, args))
    return {
        "bench": "payments",
        "service_authorizations_per_s": service["charges_per_s"],
        "monolith_charges_per_s": monolith["charges_per_s"],
        "service_p50_ms": service["p50_ms"],
        "service_p99_ms": service["p99_ms"],
        "monolith_p50_ms": monolith["p50_ms"],
        "monolith_p99_ms": monolith["p99_ms"],
        "service_authorized_p99_ms": service["authorized_p99_ms"],
        "monolith_authorized_p99_ms": monolith["authorized_p99_ms"],
        "service_accept_p99_ms": service["first_answer_p99_ms"],
        "throughput_ratio": ratio,
        "service_cpu_ms_per_charge": cpu["service"],
        "monolith_cpu_ms_per_charge": cpu["monolith"],
        "comparator_pairs_per_s": comparator["pairs_per_second"],
        "comparator": comparator,
        "goal": "service >= 2x the monolith's charges/s at a lower p99",
        "goal_met": bool(ratio is not None and ratio >= 2 and lower_p99 and not any(errors.values())),
        "service_errors": errors["service"],
        "monolith_errors": errors["monolith"],
        "rounds": rounds,
        "config": {
            "charges_per_round": args.charges,
            "rounds": args.rounds,
            "concurrency": args.concurrency,
            "warmup": args.warmup,
            "sandbox_latency_ms": args.latency_ms,
            "gunicorn": f"{args.workers} workers x {args.threads} threads (each side)",
            "payment_worker": f"{args.worker_processes} processes x {args.worker_concurrency} threads",
            "velocity_store": "redis" if os.environ.get("REDIS_URL") else "database",
        },
        "load_average_before": load_before,
        **run_facts(),
        **elapsed_since(started),
    }


def own_cpu(system: str, per_group: dict[str, float]) -> float:
    """CPU ms per charge of the processes `system`'s charges run through: its own and the sandbox's."""
    mine = [v for k, v in per_group.items() if k == "sandbox" or k.startswith(system)]
    return round(sum(mine), 2)


def _brief(name: str, row: dict) -> str:
    return (
        f"{row['charges_per_s']:>7} charges/s  p50 {row['p50_ms']} ms  p99 {row['p99_ms']} ms  "
        f"CPU {own_cpu(name, row['cpu_ms_per_charge'])} ms/charge  errors {row['errors']}"
        + (f"  ({row['first_error']})" if row["first_error"] else "")
    )


def _medians(rows: list[dict]) -> dict:
    numbers = [k for k, v in rows[0].items() if isinstance(v, int | float)]
    medians = {}
    for key in numbers:
        values = [r[key] for r in rows if r[key] is not None]
        medians[key] = median(values) if values else None
    # CPU per charge of the processes this side's charges run through (the sandbox serves both)
    medians["cpu_ms_per_charge"] = {
        name: round(median([r["cpu_ms_per_charge"][name] for r in rows]), 2)
        for name in rows[0]["cpu_ms_per_charge"]
    }
    return medians


def measure_comparator(count: int) -> dict:
    """Pairs/s of the comparator on payment pairs under the shipped rules, on one core (as bench-shadow)."""
    from shadow.bench_support import measure_throughput
    from shadow.rules_file import load_rules

    pairs, planted = make_payment_pairs(count)
    allowed = sorted(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {allowed[0]})
    try:
        result = measure_throughput(pairs, rules=load_rules(), rounds=3, decode=True)
    finally:
        os.sched_setaffinity(0, set(allowed))
    if result["mismatched"] != planted:  # the rules must keep the comparator quiet on noise, and no quieter
        raise cli.CheckFailed(
            "comparator_wrong", f"{result['mismatched']} payment pairs differed, {planted} were planted"
        )
    return {**result, "planted": planted, "core": allowed[0]}


def summary_table(summary: dict, errors: dict, comparator: dict, args) -> Table:
    table = Table(
        title=f"Charges (ms), medians of {args.rounds} rounds x {args.charges}: concurrency "
        f"{args.concurrency}, sandbox latency {args.latency_ms} ms; service async, monolith sync"
    )
    # "authorized": p99 to the authorization; "1st answer": p99 of the first response (the service's 202)
    columns = ("", "charges/s", "p50", "p99", "authorized", "1st answer", "CPU/charge", "errors")
    for column in columns:
        table.add_column(column, justify="right" if column else "left")
    for name, row in summary.items():
        table.add_row(
            name,
            str(row["charges_per_s"]),
            str(row["p50_ms"]),
            str(row["p99_ms"]),
            str(row["authorized_p99_ms"]),
            str(row["first_answer_p99_ms"]),
            str(own_cpu(name, row["cpu_ms_per_charge"])),
            str(errors[name]),
        )
    table.caption = (
        f"comparator: {comparator['pairs_per_second']:,.0f} payment pairs/s on one core "
        f"({comparator['pairs_per_cpu_second']:,.0f} per CPU second; {comparator['mismatched']} planted "
        "differences found)"
    )
    return table


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        raise cli.EnvironmentUnusable("database_unavailable", "set DATABASE_URL to a PostgreSQL server")
    report = run(args, Console(stderr=True))
    emit_json_line(report, args.output)
    return 0 if not (report["service_errors"] or report["monolith_errors"]) else 1


if __name__ == "__main__":
    sys.exit(cli.run_main("bench.payments", main))
