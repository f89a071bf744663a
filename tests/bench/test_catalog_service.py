"""bench-catalog's own parts: the interleaving of targets, the ratios, the database guard. No timings here."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from rich.console import Console

from bench.catalog_db import BenchError
from bench.catalog_service import ROUND, interleaved, parse_args, product_database_prepare, ratio
from bench.load import Client


class Target:
    """A real HTTP server answering a page of `count` rows; it records the order requests arrive in."""

    def __init__(self, name: str, log: list[tuple[str, str]], count: int = 7):
        target = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                with target.lock:
                    log.append((name, self.path))
                body = json.dumps({"count": count, "results": []}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def targets():
    log: list[tuple[str, str]] = []
    made = {name: Target(name, log) for name in ("monolith", "service_cold", "service_warm")}
    yield made, log
    for target in made.values():
        target.close()


def test_every_target_gets_every_path_in_alternating_rounds(targets):
    made, log = targets
    paths = [f"/api/v1/catalog/products?page={n}" for n in range(1, 26)]
    clients = {name: Client(target.url) for name, target in made.items()}

    figures, failures = interleaved(clients, paths, concurrency=2, on_done=lambda: None)

    assert failures == []
    assert {name: f.requests for name, f in figures.items()} == dict.fromkeys(made, 25)
    assert {name: f.avg_count for name, f in figures.items()} == dict.fromkeys(made, 7.0)
    for name in made:
        assert sorted(path for who, path in log if who == name) == sorted(paths)
    # Rounds: the first ROUND requests all go to the first target, the next ROUND to the second...
    assert [who for who, _ in log[:ROUND]] == ["monolith"] * ROUND
    assert [who for who, _ in log[ROUND : 2 * ROUND]] == ["service_cold"] * ROUND


def test_a_failing_target_is_counted_per_target():
    log: list[tuple[str, str]] = []
    up = Target("monolith", log)
    try:
        clients = {"monolith": Client(up.url), "service_cold": Client("http://127.0.0.1:9")}
        figures, failures = interleaved(clients, ["/p1", "/p2"], concurrency=1, on_done=lambda: None)
    finally:
        up.close()
    assert (figures["monolith"].errors, figures["service_cold"].errors) == (0, 2)
    assert all(failure.startswith("service_cold ") for failure in failures)


def test_ratios_are_monolith_over_service():
    assert ratio(600.0, 8.0) == 75.0
    assert ratio(10.0, 0.0) == float("inf")


def test_the_service_database_must_be_a_bench_database():
    with pytest.raises(BenchError, match="bench"):
        product_database_prepare("postgres://postgres@127.0.0.1:5432/product", Console(quiet=True))


def test_defaults_measure_100k_products_and_write_var_bench_catalog_json():
    args = parse_args([])
    assert (args.products, args.requests, args.output.name) == (100_000, 300, "catalog.json")
