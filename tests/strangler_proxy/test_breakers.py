"""Circuit breakers per (route, upstream) with thresholds from routes.yaml, their state shared by every worker
of the runner: the board itself, the parser's `breaker:` sections, and two real workers in front of a
failing target."""

from __future__ import annotations

import os
import textwrap

import pytest
import requests

from kernel.resilience import BreakerConfig, BreakerState
from strangler_proxy.breakers import Breakers, SharedBoard, decode, encode
from strangler_proxy.routes import decide
from strangler_proxy.routes_parser import RoutesError, parse_routes
from strangler_proxy.server.worker import WORKER_HEADER

from .conftest import write_flags_file, write_routes
from .test_server import WAIT, launch, wait_for


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


TWO_FAILURES = BreakerConfig(consecutive_failures=2, cooldown=5)


def two_workers(clock, config=TWO_FAILURES):
    """Two Breakers on one board, as two worker processes see it (the second maps the board by its fd)."""
    board = SharedBoard.create(slots=64)
    other = SharedBoard.attach(os.dup(board.fd))
    return Breakers(config, board=board, clock=clock), Breakers(config, board=other, clock=clock)


def test_a_word_keeps_the_state_and_the_millisecond():
    for state in BreakerState:
        assert decode(encode(state, 1234.5678)) == (state, 1234.567)


def test_a_breaker_opened_by_one_worker_is_open_in_the_other_and_closes_there_too():
    clock = Clock()
    first, second = two_workers(clock)
    for _ in range(2):
        first.get("catalog.read", "product").acquire()
        first.get("catalog.read", "product").record_failure()
    assert first.get("catalog.read", "product").state is BreakerState.OPEN
    assert second.get("catalog.read", "product").state is BreakerState.OPEN
    assert second.get("catalog.read", "product").retry_after() == pytest.approx(5, abs=0.01)

    clock.now += 6  # both go half-open; the trial of the second succeeds
    trial = second.get("catalog.read", "product")
    trial.acquire()
    trial.record_success()
    assert trial.state is BreakerState.CLOSED
    assert first.get("catalog.read", "product").state is BreakerState.CLOSED


def test_breakers_are_per_route_and_upstream():
    clock = Clock()
    first, second = two_workers(clock)
    for _ in range(2):
        first.get("catalog.read", "product").record_failure()
    assert second.get("catalog.read", "product").state is BreakerState.OPEN
    assert second.get("catalog.search", "product").state is BreakerState.CLOSED
    assert second.get("catalog.read", "legacy").state is BreakerState.CLOSED
    assert second.get(None, "product").state is BreakerState.CLOSED


def test_a_full_board_leaves_each_breaker_to_its_own_worker():
    clock = Clock()
    board = SharedBoard.create(slots=1)
    breakers = Breakers(BreakerConfig(consecutive_failures=1), board=board, clock=clock)
    breakers.get("a", "u")
    assert board.slot(("b", "u")) is None
    breakers.get("b", "u").record_failure()
    assert breakers.get("b", "u").state is BreakerState.OPEN
    assert breakers.get("a", "u").state is BreakerState.CLOSED


def test_a_file_that_is_not_a_board_is_refused(tmp_path):
    path = tmp_path / "junk"
    path.write_bytes(b"x" * 64)
    fd = os.open(path, os.O_RDWR)
    try:
        with pytest.raises(ValueError, match="unknown format"):
            SharedBoard.attach(fd)
    finally:
        os.close(fd)


# --- routes.yaml --------------------------------------------------------------------------------------------

TABLE = """\
upstreams:
  legacy: http://127.0.0.1:8000
  product: http://127.0.0.1:8101
defaults:
  breaker: {{failures: 7, cooldown: 20}}
routes:
  - id: catalog.read
    path: ^/api/v1/catalog/
    target: product
    flag: route.catalog.read
{extra}
  - id: other
    path: ^/other
    target: product
    flag: route.catalog.read
"""


def test_a_route_s_breaker_overrides_the_defaults_field_by_field():
    table = parse_routes(
        TABLE.format(extra="    breaker: {cooldown: 3, failure_rate: 0.25, min_calls: 4, half_open_calls: 2}")
    )
    by_id = {route.id: route for route in table.routes}
    assert dict(by_id["catalog.read"].breaker) == {
        "consecutive_failures": 7,
        "cooldown": 3.0,
        "failure_rate": 0.25,
        "min_calls": 4,
        "half_open_calls": 2,
    }
    assert dict(by_id["other"].breaker) == {"consecutive_failures": 7, "cooldown": 20.0}
    assert dict(table.default_breaker) == {"consecutive_failures": 7, "cooldown": 20.0}
    decision = decide(table, by_id["catalog.read"], flag_enabled=True, idempotent=True)
    config = Breakers(BreakerConfig(window=12)).config(decision.breaker)
    assert (config.consecutive_failures, config.cooldown, config.window, config.half_open_calls) == (
        7,
        3,
        12,
        2,
    )


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("    breaker: {failures: 0}", "11: route 'catalog.read': breaker.failures must be greater than 0"),
        (
            "    breaker: {failure_rate: 1.5}",
            "11: route 'catalog.read': breaker.failure_rate must be greater",
        ),
        ("    breaker: {cooldown: soon}", "11: route 'catalog.read': breaker.cooldown must be float"),
        ("    breaker: {threshold: 3}", "11: route 'catalog.read': breaker: unknown key 'threshold'"),
        ("    breaker: 5", "11: route 'catalog.read': breaker must be a mapping"),
    ],
)
def test_a_bad_breaker_section_is_refused_with_its_line(extra, message):
    with pytest.raises(RoutesError) as caught:
        parse_routes(TABLE.format(extra=extra), source="routes.yaml")
    assert f"routes.yaml:{message}" in str(caught.value)


# --- two real workers ---------------------------------------------------------------------------------------


def test_one_worker_s_outage_opens_the_breaker_of_every_worker(tmp_path, make_standin):
    """The route's breaker opens after 2 failures: once one worker has seen them, the other worker sends
    nothing more to the target either (its requests fall back to legacy at once); another route to the same
    target keeps its own, closed breaker."""
    legacy, product = make_standin("legacy"), make_standin("product")
    product.fail_status = 503
    routes = write_routes(
        tmp_path / "routes.yaml",
        textwrap.dedent(
            f"""\
            upstreams:
              legacy: {legacy.url}
              product: {product.url}
            routes:
              - id: catalog.read
                methods: [GET]
                path: ^/api/v1/catalog/products$
                target: product
                flag: route.catalog.read
                breaker: {{failures: 2, cooldown: 60}}
              - id: catalog.other
                methods: [GET]
                path: ^/api/v1/catalog/categories$
                target: product
                flag: route.catalog.read
            """
        ),
    )
    flags = write_flags_file(tmp_path / "flags.json", enabled={"route.catalog.read": True})
    env = {
        "MONOLITH_URL": legacy.url,
        "FLAGS_FILE": str(flags),
        "GATEWAY_AUDIT_LOG": str(tmp_path / "audit.jsonl"),
    }
    args = ["--workers", "2", "--upstream", legacy.url, "--routes", str(routes), "--addons", "gateway"]
    runner = launch(tmp_path / "gateway.log", *args, "--worker-header", env=env)
    try:
        wait_for(lambda: "serving on" in runner.log() or runner.process.poll() is not None, "the gateway")
        assert runner.process.poll() is None, runner.log()
        products = f"{runner.url}/api/v1/catalog/products"

        with requests.Session() as one_connection:  # one worker: two failures open its breaker
            opener = None
            for _ in range(2):
                answer = one_connection.get(products, timeout=WAIT)
                assert (answer.status_code, answer.headers["X-Strangler-Upstream"]) == (200, "legacy")
                opener = opener or answer.headers[WORKER_HEADER]
                assert answer.headers[WORKER_HEADER] == opener
        assert len(product.requests_to("/api/v1/catalog/products")) == 2

        others = []
        for _ in range(300):  # new connections until the other worker has answered a few
            answer = requests.get(products, headers={"Connection": "close"}, timeout=WAIT)
            assert (answer.status_code, answer.headers["X-Strangler-Upstream"]) == (200, "legacy")
            if answer.headers[WORKER_HEADER] != opener:
                others.append(answer)
            if len(others) == 3:
                break
        assert len(others) == 3, "the kernel never sent a connection to the second worker"
        assert len(product.requests_to("/api/v1/catalog/products")) == 2  # nobody asked the target again

        requests.get(f"{runner.url}/api/v1/catalog/categories", timeout=WAIT)
        assert len(product.requests_to("/api/v1/catalog/categories")) == 1  # its own breaker is closed
    finally:
        assert runner.stop() == 0, runner.log()
