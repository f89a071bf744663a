"""`make bench-notifications`: events consumed to messages handed to SMTP, per second, and the delay from an
event's publication to the SMTP server's receipt, through the Notification service as a user runs it (real
RabbitMQ, PostgreSQL, `consume notification_service.events` and the Celery `worker` processes, aiosmtpd).

Phases, after a warm-up: **burst** (publish `--events` at once; throughput = events / time from the first
publication to the last SMTP receipt) and **steady** (publish at half the burst's throughput, or `--rate`, for
`--steady-seconds`; p50/p99 of publication -> receipt). Baseline, same run, same SMTP server: the SMTP hop
alone (this process hands the same number of messages to the server, one connection per message, as
Django's send_mail does). Every address must get exactly one message. Ends with one JSON line (also
var/bench/notifications.json). Goals: >= 500 messages/s; p99 < 1000 ms at half that rate.
"""

from __future__ import annotations

import argparse
import os
import signal
import smtplib
import sys
import threading
import time
import uuid
from email.message import EmailMessage
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bench.notification_events import DOMAIN, PlannedEvent, plan, recipients_for
from bench.notification_stack import NotificationStack, StackError, running_notification_stack
from bench.proc_cpu import group_cpu_seconds
from bench.report import REPO_ROOT, elapsed_since, emit_json_line, progress_bar, run_facts
from bench.stats import percentile
from chassis.broker import Publisher

OUTPUT = REPO_ROOT / "var" / "bench" / "notifications.json"
GOAL_PER_S = 500.0
GOAL_P99_MS = 1000.0
PUBLISHERS = 4  # publishing threads: the burst must not be paced by one connection's confirm round trips


class BenchFailed(RuntimeError):
    """A phase did not complete (messages missing after the timeout)."""


def ms(seconds: list[float], p: float) -> float | None:
    return round(percentile(seconds, p) * 1000, 1) if seconds else None


def seed_recipients(stack: NotificationStack, publisher: Publisher, events: list[PlannedEvent]) -> None:
    """Publish the order events' owners (`user.upserted`) and wait until the service has them all."""
    seeds = recipients_for(events)
    if not seeds:
        return
    before = stack.scalar("SELECT count(*) FROM notification_service_recipient")
    for envelope in seeds:
        publisher.publish(envelope)
    deadline = time.monotonic() + 60 + len(seeds) / 20
    while stack.scalar("SELECT count(*) FROM notification_service_recipient") < before + len(seeds):
        stack.check_alive()
        if time.monotonic() > deadline:
            raise BenchFailed(f"the service did not apply {len(seeds)} user.upserted events in time")
        time.sleep(0.1)


def publish_all(broker_url: str, events: list[PlannedEvent], *, rate: float | None, on_each) -> dict:
    """Publish each event (at `rate` per second on a fixed schedule, or as fast as confirms allow) from
    PUBLISHERS threads, each with its own connection (a confirm is waited for per message);
    {recipient: publication time}."""
    published: dict[str, float] = {}
    started = time.time()
    errors: list[BaseException] = []

    def publish_share(share: int) -> None:
        try:
            with Publisher(broker_url) as publisher:
                for index in range(share, len(events), PUBLISHERS):
                    if rate:
                        wait = started + index / rate - time.time()
                        if wait > 0:
                            time.sleep(wait)
                    published[events[index].recipient] = time.time()
                    publisher.publish(events[index].envelope())
                    on_each()
        except BaseException as exc:  # re-raised in the caller's thread
            errors.append(exc)

    threads = [threading.Thread(target=publish_share, args=(n,)) for n in range(PUBLISHERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return published


def cpu_by_role(stack: NotificationStack) -> dict[str, float]:
    """CPU seconds so far of the consumer processes together and of the worker (with its pool children)."""
    totals = {"consumer": 0.0, "worker": 0.0}
    for proc in stack.processes:
        role = "worker" if proc.name == "worker" else "consumer"
        totals[role] += group_cpu_seconds(proc.process.pid)  # each started in its own session
    return totals


def run_phase(stack, events, *, name: str, rate: float | None, progress, timeout: float) -> dict:
    recipients = [e.recipient for e in events]
    cpu_before = cpu_by_role(stack)
    published_task = progress.add_task(f"{name}: published", total=len(events))
    received_task = progress.add_task(f"{name}: received by SMTP", total=len(events))
    receipts = stack.sink.receipts
    base = receipts.count

    def on_each() -> None:
        progress.update(published_task, advance=1)
        progress.update(received_task, completed=receipts.count - base)

    published = publish_all(stack.broker_url, events, rate=rate, on_each=on_each)
    publish_seconds = max(published.values()) - min(published.values())
    got = receipts.wait_for(
        recipients, timeout, on_progress=lambda n: progress.update(received_task, completed=n)
    )
    cpu_after = cpu_by_role(stack)
    stack.check_alive()
    if got < len(events):
        raise BenchFailed(
            f"{name}: {len(events) - got} of {len(events)} messages not received in {timeout:.0f} s"
        )
    delays = [receipts.first(r) - published[r] for r in recipients]
    first_publication = min(published.values())
    last_receipt = max(receipts.first(r) for r in recipients)
    wall = last_receipt - first_publication
    return {
        "events": len(events),
        "messages_per_s": round(len(events) / wall, 1),
        "publish_per_s": round(len(events) / publish_seconds, 1) if publish_seconds > 0 else None,
        "p50_delivery_ms": ms(delays, 50),
        "p99_delivery_ms": ms(delays, 99),
        "max_delivery_ms": round(max(delays) * 1000, 1),
        "wall_s": round(wall, 2),
        # CPU per message of the service's processes: steadier than messages/s on a shared machine
        **{
            f"{role}_cpu_ms_per_message": round((cpu_after[role] - cpu_before[role]) * 1000 / len(events), 2)
            for role in cpu_before
        },
    }


def smtp_direct(port: int, count: int, tag: str) -> float:
    """Baseline: this process hands `count` messages to the SMTP server, a connection each; messages/s."""
    body = "Olá Ana,\n\n" + "Seu pedido TS-B1 não pôde ser concluído: card declined.\n" * 8
    started = time.perf_counter()
    for n in range(count):
        message = EmailMessage()
        message["Subject"], message["From"] = "Pedido TS-B1", "TechStore <no-reply@techstore.example>"
        message["To"] = f"direct{n}.{tag}@{DOMAIN}"
        message["Message-ID"] = f"<{uuid.uuid4()}@bench.example>"
        message.set_content(body)
        message.add_alternative(f"<html><body><p>{body}</p></body></html>", subtype="html")
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
            smtp.send_message(message)
    return round(count / (time.perf_counter() - started), 1)


def run(args: argparse.Namespace, console: Console) -> dict:
    started = time.monotonic()
    tag = uuid.uuid4().hex[:8]
    var_dir = Path(args.var_dir or REPO_ROOT / "var" / "bench-notifications")
    warmup = plan(0, args.warmup, tag)
    burst = plan(args.warmup, args.events, tag)
    with (
        running_notification_stack(
            var_dir=var_dir,
            consumers=args.consumers,
            worker_concurrency=args.worker_concurrency,
            pool=args.pool,
        ) as stack,
        Publisher(stack.broker_url) as publisher,
        progress_bar(console, label_width=34, disable=args.no_progress) as progress,
    ):
        console.print(
            f"[bold]{args.consumers} consumer(s), worker {args.pool} x{args.worker_concurrency}; "
            f"logs under {var_dir / 'logs'}"
        )
        seed_recipients(stack, publisher, warmup + burst)
        if warmup:
            run_phase(stack, warmup, name="warm-up", rate=None, progress=progress, timeout=120)
        burst_figures = run_phase(
            stack, burst, name="burst", rate=None, progress=progress,
            timeout=120 + args.events / 20,
        )  # fmt: skip
        rate = args.rate or round(burst_figures["messages_per_s"] / 2, 1)
        steady = plan(args.warmup + args.events, max(1, round(rate * args.steady_seconds)), tag)
        seed_recipients(stack, publisher, steady)
        steady_figures = run_phase(
            stack, steady, name=f"steady {rate}/s", rate=rate, progress=progress,
            timeout=120 + len(steady) / 20,
        )  # fmt: skip
        direct = smtp_direct(stack.sink.port, args.baseline_messages, tag) if args.baseline_messages else None
        duplicates = sum(len(t) - 1 for r, t in stack.sink.receipts.times.items() if len(t) > 1)
        sent_rows = stack.scalar(
            "SELECT count(*) FROM notification_service_notification WHERE state = 'sent'"
        )
    total = len(warmup) + len(burst) + len(steady)
    report = {
        "bench": "notifications",
        "messages_per_s": burst_figures["messages_per_s"],
        "p99_delivery_ms": steady_figures["p99_delivery_ms"],
        "p50_delivery_ms": steady_figures["p50_delivery_ms"],
        "rate_per_s": rate,
        "steady_publish_per_s": steady_figures["publish_per_s"],
        "consumer_cpu_ms_per_message": burst_figures["consumer_cpu_ms_per_message"],
        "worker_cpu_ms_per_message": burst_figures["worker_cpu_ms_per_message"],
        "goal_throughput_met": burst_figures["messages_per_s"] >= GOAL_PER_S,
        "goal_p99_met": steady_figures["p99_delivery_ms"] < GOAL_P99_MS,
        "burst": burst_figures,
        "steady": steady_figures,
        "smtp_direct_per_s": direct,
        "ratio_to_smtp_direct": round(burst_figures["messages_per_s"] / direct, 3) if direct else None,
        "duplicates": duplicates,
        "sent_rows": sent_rows,
        "expected_rows": total,
        "consumers": args.consumers,
        "worker_pool": args.pool,
        "worker_concurrency": args.worker_concurrency,
        **run_facts(),
        **elapsed_since(started),
    }
    summary(console, report)
    return report


def summary(console: Console, report: dict) -> None:
    table = Table("phase", "events", "msg/s", "pub/s", "p50 ms", "p99 ms", "max ms", "CPU ms/msg c+w")
    for name in ("burst", "steady"):
        f = report[name]
        table.add_row(
            name if name == "burst" else f"steady {report['rate_per_s']}/s",
            *(str(f[k]) for k in ("events", "messages_per_s", "publish_per_s", "p50_delivery_ms")),
            str(f["p99_delivery_ms"]),
            str(f["max_delivery_ms"]),
            f"{f['consumer_cpu_ms_per_message']} + {f['worker_cpu_ms_per_message']}",
        )
    if report["smtp_direct_per_s"]:
        table.add_row("SMTP alone", "", str(report["smtp_direct_per_s"]), "", "", "", "", "")
    console.print(table)
    console.print(
        f"goal >= {GOAL_PER_S:.0f}/s: {'met' if report['goal_throughput_met'] else 'MISSED'}; "
        f"goal p99 < {GOAL_P99_MS:.0f} ms at {report['rate_per_s']}/s: "
        f"{'met' if report['goal_p99_met'] else 'MISSED'}; duplicates {report['duplicates']}, "
        f"rows sent {report['sent_rows']}/{report['expected_rows']}"
    )


def positive_int(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return number


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.notifications", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--events", type=positive_int, default=5000, help="events of the burst (the size)")
    parser.add_argument("--steady-seconds", type=float, default=20.0, help="length of the steady phase")
    parser.add_argument("--rate", type=float, default=None, help="steady rate/s (default: half the burst's)")
    parser.add_argument("--warmup", type=int, default=60, help="unmeasured events first")
    parser.add_argument("--baseline-messages", type=int, default=1000, help="SMTP-alone messages (0: skip)")
    parser.add_argument("--consumers", type=positive_int, default=1, help="event consumer processes")
    parser.add_argument("--worker-concurrency", type=positive_int, default=2)
    parser.add_argument("--pool", choices=("prefork", "threads", "solo"), default="prefork")
    parser.add_argument("--var-dir", default=None)
    parser.add_argument("--output", type=Path, default=OUTPUT)
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        print(
            "bench.notifications: database_unavailable: set DATABASE_URL to a PostgreSQL server",
            file=sys.stderr,
        )
        return 2
    console = Console(stderr=True)
    # SIGTERM (a CI timeout, `kill`) unwinds like Ctrl-C: the stack's processes stop, its database and
    # virtual host are dropped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        report = run(args, console)
    except StackError as exc:
        print(f"bench.notifications: stack_unavailable: {exc}", file=sys.stderr)
        return 2
    except BenchFailed as exc:
        print(f"bench.notifications: incomplete: {exc}", file=sys.stderr)
        return 1
    emit_json_line(report, args.output)
    return 1 if report["duplicates"] or report["sent_rows"] != report["expected_rows"] else 0


if __name__ == "__main__":
    sys.exit(main())
