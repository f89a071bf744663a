"""`make bench-internal`: stock reservations per second and p50/p99 through the Product service's two internal
paths, side by side in one run against real server processes (issue 20):

- `rest`: POST /internal/v1/stock/reserve on `serve` (gunicorn, gthread workers), a keep-alive
  requests.Session per client thread (the Order service's HttpStock);
- `grpc`: StockService.Reserve on `grpc` (the same number of processes, SO_REUSEPORT), one channel shared by
  the client threads (the Order service's GrpcStock);
- with `--mtls` (default on), each again over mutual TLS 1.3 with certificates from chassis.certs, which
  gives the cost of mTLS on the internal call.

Both servers call services.stock_reserve on one throwaway PostgreSQL database (1000 products with stock to
spare; every call a new reference, one line, so each is a real reservation and an outbox row). The modes run
interleaved (`--rounds`, the order rotating each round) with the same number of calls and client threads; the
figures are the medians of the rounds. The last line is the JSON report (also var/bench/internal_calls.json).

    make bench-internal BENCH_ARGS="--calls 2000 --concurrency 8 --rounds 3 --processes 2"
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import grpc
import requests
from rich.console import Console
from rich.table import Table

from bench.report import REPO_ROOT, emit_json_line, median, run_facts
from bench.stats import percentile
from chassis.certs import certs_make
from chassis.internal_http import mount_internal_tls
from chassis.settings import DEV_INTERNAL_API_TOKEN
from contracts.rpc.techstore.stock.v1 import stock_pb2, stock_pb2_grpc
from kernel.mtls import MutualTls
from legacy_monolith.demo.processes import free_port, python_argv, stop_process_group
from legacy_monolith.demo.services import throwaway_database

PRODUCTS = 1000
STOCK = 2_000_000_000
TOKEN = os.environ.get("INTERNAL_API_TOKEN") or DEV_INTERNAL_API_TOKEN
OUTPUT = REPO_ROOT / "var" / "bench" / "internal_calls.json"


def product_doc(product_id: int) -> dict:
    return {
        "id": product_id,
        "sku": f"BENCH-{product_id:05d}",
        "name": f"Bench product {product_id}",
        "slug": f"bench-product-{product_id}",
        "description": "",
        "price": "10.00",
        "currency": "EUR",
        "category": {"id": 1, "slug": "bench", "name": "Bench"},
        "attributes": {},
        "image_urls": [],
        "stock": STOCK,
        "weight_grams": 100,
        "is_active": True,
        "created_at": "2026-01-01T00:00:00Z",
        "updated_at": "2026-01-01T00:00:00Z",
        "version": 1,
    }


@dataclass
class Server:
    mode: str
    port: int
    process: subprocess.Popen


def _wait_port(server: Server, log: Path, deadline_s: float = 60) -> None:
    import socket

    until = time.monotonic() + deadline_s
    while time.monotonic() < until:
        if server.process.poll() is not None:
            raise RuntimeError(f"{server.mode} server exited: {log.read_text()[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", server.port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{server.mode} server did not listen on {server.port}: {log.read_text()[-2000:]}")


@contextmanager
def servers(args, database_url: str, tmp: Path, certs: Path | None) -> Iterator[dict[str, Server]]:
    env = {
        **os.environ,
        "PRODUCT_DATABASE_URL": database_url,
        "STRANGLER_VAR_DIR": str(tmp / "var"),
        "PRODUCT_CACHE_ENABLED": "false",
        "BROKER_URL": "filesystem://",
        "INTERNAL_API_TOKEN": TOKEN,
        "LOG_LEVEL": "WARNING",
    }
    for name in ("REDIS_URL", "INTERNAL_TLS_CERT", "INTERNAL_TLS_KEY", "INTERNAL_TLS_CA"):
        env.pop(name, None)
    subprocess.run(
        python_argv("-m", "extracted.product_service", "migrate", "--noinput"),
        env=env, cwd=REPO_ROOT, check=True, capture_output=True,
    )  # fmt: skip
    tls_env = {}
    if certs is not None:
        tls_env = {
            "INTERNAL_TLS_CERT": str(certs / "product_service.crt"),
            "INTERNAL_TLS_KEY": str(certs / "product_service.key"),
            "INTERNAL_TLS_CA": str(certs / "ca.crt"),
        }
    workers, threads = str(args.processes), str(args.threads)
    commands = {
        "rest": ["serve", "--workers", workers, "--threads", threads],
        "grpc": ["grpc", "--processes", workers, "--threads", threads],
    }
    plan = [(mode, mode, {}) for mode in commands]
    if certs is not None:
        plan += [(f"{mode}_mtls", mode, tls_env) for mode in commands]
    running: dict[str, Server] = {}
    logs = []
    try:
        for mode, kind, extra in plan:
            port = free_port()
            log = tmp / f"{mode}.log"
            logs.append(open(log, "wb"))  # noqa: SIM115 (closed below)
            argv = python_argv(
                "-m", "extracted.product_service", *commands[kind], "--bind", f"127.0.0.1:{port}"
            )
            process = subprocess.Popen(
                argv,
                env={**env, **extra, "PROMETHEUS_MULTIPROC_DIR": str(tmp / f"prom-{mode}")},
                cwd=REPO_ROOT, stdout=logs[-1], stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
            running[mode] = Server(mode, port, process)
            _wait_port(running[mode], log)
        yield running
    finally:
        for server in running.values():
            stop_process_group(server.process, 10)
        for log in logs:
            log.close()


def seed(port: int) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    category = {"id": 1, "name": "Bench", "slug": "bench", "parent_id": None, "version": 1}
    base = f"http://127.0.0.1:{port}/internal/v1/import"
    requests.post(
        f"{base}/categories", json={"categories": [category]}, headers=headers, timeout=60
    ).raise_for_status()
    answer = requests.post(
        f"http://127.0.0.1:{port}/internal/v1/import/products",
        json={"products": [product_doc(i) for i in range(1, PRODUCTS + 1)]},
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=120,
    )
    answer.raise_for_status()


def rest_caller(port: int, certs: Path | None, tls: bool) -> Callable[[], Callable[[str, int], bool]]:
    scheme = "https" if tls else "http"
    url = f"{scheme}://localhost:{port}/internal/v1/stock/reserve"

    def per_thread() -> Callable[[str, int], bool]:
        session = requests.Session()
        if tls:
            mutual = MutualTls(
                str(certs / "order_service.crt"), str(certs / "order_service.key"), str(certs / "ca.crt")
            )
            session = mount_internal_tls(session, mutual)
        headers = {"Authorization": f"Bearer {TOKEN}"}

        def call(reference: str, product_id: int) -> bool:
            body = {"reference": reference, "lines": [{"product_id": product_id, "quantity": 1}]}
            return session.post(url, json=body, headers=headers, timeout=30).status_code == 201

        return call

    return per_thread


def grpc_caller(port: int, certs: Path | None, tls: bool) -> Callable[[], Callable[[str, int], bool]]:
    if tls:
        credentials = grpc.ssl_channel_credentials(
            root_certificates=(certs / "ca.crt").read_bytes(),
            private_key=(certs / "order_service.key").read_bytes(),
            certificate_chain=(certs / "order_service.crt").read_bytes(),
        )
        channel = grpc.secure_channel(f"localhost:{port}", credentials)
    else:
        channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    stub = stock_pb2_grpc.StockServiceStub(channel)
    metadata = (("authorization", f"Bearer {TOKEN}"),)

    def per_thread() -> Callable[[str, int], bool]:
        def call(reference: str, product_id: int) -> bool:
            request = stock_pb2.ReserveRequest(
                reference=reference, lines=[stock_pb2.StockLine(product_id=product_id, quantity=1)]
            )
            return stub.Reserve(request, metadata=metadata, timeout=30).outcome == stock_pb2.OUTCOME_NEW

        return call

    return per_thread


def run_phase(label: str, factory, calls: int, concurrency: int) -> dict:
    """`calls` reservations from `concurrency` threads; figures of this phase."""
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    counter = iter(range(calls))
    warm = [factory() for _ in range(concurrency)]
    for i, call in enumerate(warm):  # connections made (and TLS handshakes done) before the clock starts
        call(f"{label}-warm-{i}", 1 + i)

    def worker(call) -> None:
        rng = random.Random()
        mine, failed = [], 0
        while True:
            with lock:
                n = next(counter, None)
            if n is None:
                break
            started = time.perf_counter()
            try:
                ok = call(f"{label}-{n}", rng.randint(1, PRODUCTS))
            except Exception:
                ok = False
            mine.append(time.perf_counter() - started)
            failed += not ok
        with lock:
            latencies.extend(mine)
            errors[0] += failed

    threads = [threading.Thread(target=worker, args=(call,)) for call in warm]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    ms = [latency * 1000 for latency in latencies]
    return {
        "calls": len(latencies),
        "errors": errors[0],
        "calls_per_s": round(len(latencies) / wall, 1),
        "p50_ms": round(percentile(ms, 50), 2),
        "p99_ms": round(percentile(ms, 99), 2),
    }


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="python -m bench.internal_calls", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--calls", type=int, default=2000, help="reservations per mode per round")
    parser.add_argument("--concurrency", type=int, default=8, help="client threads")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--processes", type=int, default=2, help="server processes of each kind")
    parser.add_argument("--threads", type=int, default=4, help="threads per server process")
    parser.add_argument("--no-mtls", dest="mtls", action="store_false", help="skip the mutual-TLS modes")
    parser.add_argument("--output", type=Path, default=OUTPUT, help="where the JSON line is kept too")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    console = Console(stderr=True)
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        console.print(
            "bench-internal: set DATABASE_URL to a PostgreSQL server (a throwaway database is made there)"
        )
        return 2
    rounds: dict[str, list[dict]] = {}
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-internal-")))
        certs = None
        if args.mtls:
            certs = tmp / "certs"
            certs_make(folder=certs, services=("product_service", "order_service"))
        database_url = stack.enter_context(throwaway_database("bench_internal"))
        running = stack.enter_context(servers(args, database_url, tmp, certs))
        seed(running["rest"].port)
        callers = {
            mode: (rest_caller if mode.startswith("rest") else grpc_caller)(
                server.port, certs, mode.endswith("_mtls")
            )
            for mode, server in running.items()
        }
        modes = list(callers)
        for n in range(args.rounds):
            order = modes[n % len(modes) :] + modes[: n % len(modes)]
            for mode in order:
                figures = run_phase(f"r{n}-{mode}", callers[mode], args.calls, args.concurrency)
                rounds.setdefault(mode, []).append(figures)
                console.print(f"round {n + 1} {mode:10} {figures}")
    report = {"bench": "internal_calls", **run_facts(), "calls": args.calls, "concurrency": args.concurrency}
    report |= {
        "rounds": args.rounds,
        "processes": args.processes,
        "threads": args.threads,
        "per_round": rounds,
    }
    for mode, rows in rounds.items():
        for key in ("calls_per_s", "p50_ms", "p99_ms"):
            report[f"{mode}_{key}"] = median([row[key] for row in rows])
        report[f"{mode}_errors"] = sum(row["errors"] for row in rows)
    report["grpc_vs_rest_throughput"] = round(report["grpc_calls_per_s"] / report["rest_calls_per_s"], 2)
    if args.mtls:
        for kind in ("grpc", "rest"):
            report[f"{kind}_mtls_cost_p50_ms"] = round(
                report[f"{kind}_mtls_p50_ms"] - report[f"{kind}_p50_ms"], 2
            )
    table = Table(title="Stock reservations: gRPC vs REST (medians of the rounds)")
    for column in ("mode", "calls/s", "p50 ms", "p99 ms", "errors"):
        table.add_column(column, justify="right")
    for mode in rounds:
        table.add_row(
            mode,
            str(report[f"{mode}_calls_per_s"]),
            str(report[f"{mode}_p50_ms"]),
            str(report[f"{mode}_p99_ms"]),
            str(report[f"{mode}_errors"]),
        )
    console.print(table)
    emit_json_line(report, args.output)
    errors = sum(report[f"{mode}_errors"] for mode in rounds)
    if errors:
        console.print(f"bench-internal: {errors} reservation(s) failed (see the servers' logs above)")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
