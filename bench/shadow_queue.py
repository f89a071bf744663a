"""The shadow pairs' embedded-profile queue: our file queue (shadow/transport/file_queue.py, JSONL segments
and committed read positions) against kombu's filesystem transport (one file per message, what the
embedded BROKER_URL uses), side by side in the same run, interleaved.

Per round and per implementation: publish N realistic pairs (shadow/bench_support.py, ~2 KB each) from
this process, then consume them all (get, ack, the positions committed). Medians over the rounds, the
ratio ours/kombu, one JSON line (also var/bench/shadow-queue.json). `--backlog N` also times consuming a
queue that already holds N messages, where kombu lists and sorts the whole folder for every message.

    make bench-shadow-queue BENCH_ARGS="--pairs 2000 --rounds 5"
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
import uuid
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bench.report import REPO_ROOT, emit_json_line, median, run_facts
from shadow.bench_support import make_pairs
from shadow.transport import EXCHANGE, QUEUE, ROUTING_PREFIX, FileQueueReader, FileQueueWriter, routing_key


def ours(directory: Path, raw: list[bytes]) -> tuple[float, float]:
    writer = FileQueueWriter(directory / "ours")
    started = time.perf_counter()
    for record in raw:
        writer.append(record)
    writer.close()
    published = time.perf_counter() - started
    reader = FileQueueReader(directory / "ours")
    started, got = time.perf_counter(), 0
    while got < len(raw):
        batch = reader.poll()
        if not batch:
            raise RuntimeError(f"our file queue ran dry after {got} of {len(raw)} pairs")
        for message in batch:
            message.ack()
        got += len(batch)
    reader.close()
    return published, time.perf_counter() - started


def kombu_filesystem(directory: Path, raw: list[bytes]) -> tuple[float, float]:
    from kombu import Connection, Exchange, Queue

    folder = directory / "kombu"
    for sub in ("queue", "control", "processed"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    options = {
        "data_folder_in": str(folder / "queue"),
        "data_folder_out": str(folder / "queue"),
        "control_folder": str(folder / "control"),
        "processed_folder": str(folder / "processed"),
        "store_processed": False,
    }
    # Names of this run's own: kombu keeps a process-wide table of the bindings it already declared.
    run = uuid.uuid4().hex[:8]
    exchange = Exchange(f"{EXCHANGE}.{run}", type="topic", durable=True)
    queue = Queue(f"{QUEUE}.{run}", exchange, routing_key=ROUTING_PREFIX + "#", durable=True)
    with Connection("filesystem://", transport_options=options) as connection:
        channel = connection.channel()
        queue(channel).declare()
        producer = connection.Producer(channel, exchange=exchange)
        started = time.perf_counter()
        for record in raw:
            producer.publish(
                record,
                routing_key=routing_key("catalog.read"),
                content_type="application/json",
                content_encoding="utf-8",
                delivery_mode=2,
            )
        published = time.perf_counter() - started
        bound, got = queue(channel), 0
        started = time.perf_counter()
        while got < len(raw):
            message = bound.get(no_ack=False, accept=["application/json"])
            if message is None:
                raise RuntimeError(f"kombu's filesystem queue ran dry after {got} of {len(raw)} pairs")
            message.ack()
            got += 1
        return published, time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.shadow_queue", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--pairs", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--backlog", type=int, default=0, help="also consume a queue already holding N pairs")
    parser.add_argument("--output", type=Path, default=REPO_ROOT / "var" / "bench" / "shadow-queue.json")
    args = parser.parse_args(argv)
    console = Console(stderr=True)
    raw = [pair.to_json() for pair in make_pairs(args.pairs)]
    timings: dict[str, dict[str, list[float]]] = {
        name: {"publish": [], "consume": []} for name in ("ours", "kombu")
    }
    for round_number in range(args.rounds):
        order = [("ours", ours), ("kombu", kombu_filesystem)]
        if round_number % 2:
            order.reverse()
        for name, run in order:
            directory = Path(tempfile.mkdtemp(prefix="bench-shadow-queue-"))
            try:
                published, consumed = run(directory, raw)
            finally:
                shutil.rmtree(directory, ignore_errors=True)
            timings[name]["publish"].append(len(raw) / published)
            timings[name]["consume"].append(len(raw) / consumed)
    figures = {
        f"{name}_{phase}_per_s": round(median(values), 1)
        for name, phases in timings.items()
        for phase, values in phases.items()
    }
    figures["publish_ratio"] = round(figures["ours_publish_per_s"] / figures["kombu_publish_per_s"], 2)
    figures["consume_ratio"] = round(figures["ours_consume_per_s"] / figures["kombu_consume_per_s"], 2)
    if args.backlog:
        backlog = raw * (args.backlog // len(raw) + 1)
        for name, run in (("ours", ours), ("kombu", kombu_filesystem)):
            directory = Path(tempfile.mkdtemp(prefix="bench-shadow-queue-"))
            try:
                _, consumed = run(directory, backlog[: args.backlog])
            finally:
                shutil.rmtree(directory, ignore_errors=True)
            figures[f"{name}_consume_backlog_{args.backlog}_per_s"] = round(args.backlog / consumed, 1)
    table = Table(title=f"shadow pairs through the embedded queue ({args.pairs} pairs, {args.rounds} rounds)")
    for column in ("", "ours/s", "kombu filesystem/s", "ratio"):
        table.add_column(column)
    for phase in ("publish", "consume"):
        table.add_row(
            phase,
            str(figures[f"ours_{phase}_per_s"]),
            str(figures[f"kombu_{phase}_per_s"]),
            f"{figures[f'{phase}_ratio']}x",
        )
    console.print(table)
    emit_json_line(
        {"bench": "shadow-queue", **run_facts(), "pairs": args.pairs, "rounds": args.rounds, **figures},
        args.output,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
