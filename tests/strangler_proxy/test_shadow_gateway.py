"""Shadow mode through a real gateway process (mitmdump + strangler_proxy/addon.py) with stand-in upstreams:
legacy answers the client, the candidate gets a background copy, and the shadow pair lands in the queue."""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path

import pytest
import requests
from kombu import Connection
from kombu import Exchange as KombuExchange
from kombu import Queue as KombuQueue
from prometheus_client.parser import text_string_to_metric_families

from shadow.pairs import ShadowPair
from shadow.transport import consume, open_reader
from tests.strangler_proxy.conftest import GatewayStartError, free_port, write_flags_file, write_routes

pytestmark = pytest.mark.e2e

BROKER = "amqp://guest:guest@127.0.0.1:5672//"
FLAG = "route.catalog.read"  # a flag the bootstrap flags file has; switched on in these tests


def shadow_routes(
    path: Path, legacy, candidate, *, secondary=None, shadow_options: str = "", methods="[GET]"
):
    secondary_line = f"  secondary: {secondary.url}\n" if secondary else ""
    return write_routes(
        path,
        f"""
upstreams:
  legacy: {legacy.url}
  candidate: {candidate.url}
{secondary_line}defaults: {{legacy: legacy, timeout: 10, bulkhead: 20}}
routes:
  - id: items.shadow
    methods: {methods}
    path: ^/items(/.*)?$
    target: candidate
    flag: {FLAG}
    mode: shadow
{shadow_options}
""",
    )


def fixed_answer(document: dict):
    return lambda received: (200, document)


def read_pairs(url: str, *, expect: int, attempts: int = 50) -> list[ShadowPair]:
    """Consume the queue until `expect` pairs arrived (the gateway publishes in the background)."""
    pairs: list[ShadowPair] = []
    for _ in range(attempts):
        consume(url, lambda raw: pairs.append(ShadowPair.from_json(raw)), idle_timeout=0.2)
        if len(pairs) >= expect:
            return pairs
    return pairs


@pytest.fixture
def queue_url(tmp_path) -> str:
    return f"file://{tmp_path / 'shadow-queue'}"


@pytest.fixture
def flags(tmp_path) -> Path:
    return write_flags_file(tmp_path / "flags.json", enabled={FLAG: True})


def test_the_client_gets_legacys_answer_before_a_slow_candidate_answers(
    make_standin, gateway_process, tmp_path, queue_url, flags
):
    legacy = make_standin("legacy")
    candidate = make_standin("candidate")
    legacy.responder = fixed_answer({"id": 1, "name": "legacy"})
    events: list[str] = []
    release = threading.Event()

    def slow_candidate(received):
        release.wait(10)  # holds the candidate's answer until the client has its own
        events.append("candidate answered")
        return 200, {"id": 1, "name": "candidate"}

    candidate.responder = slow_candidate
    routes = shadow_routes(tmp_path / "routes.yaml", legacy, candidate)
    gateway = gateway_process(routes, flags, {"SHADOW_QUEUE_URL": queue_url}, legacy_url=legacy.url)
    direct = requests.get(f"{legacy.url}/items/1", timeout=5)

    response = requests.get(f"{gateway.url}/items/1", timeout=5)
    events.append("client answered")
    release.set()

    assert events == ["client answered"], "the client waited for the candidate"
    assert response.status_code == direct.status_code == 200
    assert response.content == direct.content
    assert response.headers["Content-Type"] == direct.headers["Content-Type"]
    assert response.headers["X-Standin"] == "legacy"
    (pair,) = read_pairs(queue_url, expect=1)
    assert events == ["client answered", "candidate answered"]
    assert pair.route == "items.shadow"
    assert pair.primary.json() == {"id": 1, "name": "legacy"}
    assert pair.candidate.json() == {"id": 1, "name": "candidate"}
    assert pair.trace_id
    assert response.headers["traceparent"].split("-")[1] == pair.trace_id


def test_pairs_carry_the_secondary_and_both_candidate_answers_in_the_file_queue(
    make_standin, gateway_process, tmp_path, queue_url, flags
):
    legacy, secondary, candidate = (
        make_standin("legacy"),
        make_standin("secondary"),
        make_standin("candidate"),
    )
    routes = shadow_routes(
        tmp_path / "routes.yaml",
        legacy,
        candidate,
        secondary=secondary,
        shadow_options="    shadow: {secondary: secondary, candidate_repeats: 2, timeout: 3}",
    )
    gateway = gateway_process(routes, flags, {"SHADOW_QUEUE_URL": queue_url}, legacy_url=legacy.url)

    for number in range(3):
        assert requests.get(f"{gateway.url}/items/{number}?lang=en", timeout=5).status_code == 200

    pairs = sorted(read_pairs(queue_url, expect=3), key=lambda pair: pair.path)
    assert [pair.path for pair in pairs] == ["/items/0", "/items/1", "/items/2"]
    for pair in pairs:
        assert pair.query == "lang=en"
        assert pair.primary.json()["upstream"] == "legacy"
        assert pair.secondary.json()["upstream"] == "secondary"
        assert pair.candidate.json()["upstream"] == "candidate"
        assert pair.candidate2.json()["upstream"] == "candidate"
    assert len(candidate.requests_to("/items")) == 6
    assert len(secondary.requests_to("/items")) == 3


def test_a_candidate_that_is_down_is_recorded_as_a_copy_error_and_the_client_is_served(
    make_standin, gateway_process, tmp_path, queue_url, flags
):
    legacy, candidate = make_standin("legacy"), make_standin("candidate")
    candidate.stop()
    routes = shadow_routes(tmp_path / "routes.yaml", legacy, candidate)
    gateway = gateway_process(routes, flags, {"SHADOW_QUEUE_URL": queue_url}, legacy_url=legacy.url)

    response = requests.get(f"{gateway.url}/items/7", timeout=5)

    assert response.status_code == 200
    assert response.json()["upstream"] == "legacy"
    (pair,) = read_pairs(queue_url, expect=1)
    assert pair.candidate.status == 0
    assert pair.candidate.error == "connect_failed"
    assert pair.primary.status == 200


def test_nothing_is_mirrored_while_the_routes_flag_is_off(make_standin, gateway_process, tmp_path, queue_url):
    legacy, candidate = make_standin("legacy"), make_standin("candidate")
    routes = shadow_routes(tmp_path / "routes.yaml", legacy, candidate)
    # A second shadow route whose flag is on: its pair, requested last, shows the gateway was mirroring.
    other_flag = "route.orders.write"
    with routes.open("a") as table:
        table.write(
            f"  - id: others.shadow\n    methods: [GET]\n    path: ^/others$\n    target: candidate\n"
            f"    flag: {other_flag}\n    mode: shadow\n"
        )
    flags = write_flags_file(tmp_path / "flags-off.json", enabled={FLAG: False, other_flag: True})
    gateway = gateway_process(routes, flags, {"SHADOW_QUEUE_URL": queue_url}, legacy_url=legacy.url)

    assert requests.get(f"{gateway.url}/items/1", timeout=5).status_code == 200
    assert requests.get(f"{gateway.url}/others", timeout=5).status_code == 200

    assert [pair.route for pair in read_pairs(queue_url, expect=1)] == ["others.shadow"]
    assert [r.path for r in candidate.received] == ["/others"]


def test_a_write_route_in_shadow_mode_without_a_safety_declaration_stops_the_gateway(
    make_standin, gateway_process, tmp_path, flags
):
    legacy, candidate = make_standin("legacy"), make_standin("candidate")
    routes = shadow_routes(tmp_path / "routes.yaml", legacy, candidate, methods="[GET, POST]")

    with pytest.raises(GatewayStartError) as refused:
        gateway_process(routes, flags, legacy_url=legacy.url)

    assert f"{routes}:" in refused.value.log
    assert "route 'items.shadow': mode shadow would mirror writes (POST)" in refused.value.log


def test_a_client_cannot_spoof_the_shadow_marker_and_declared_writes_are_marked_with_a_new_key(
    make_standin, gateway_process, tmp_path, queue_url, flags
):
    legacy, candidate = make_standin("legacy"), make_standin("candidate")
    routes = shadow_routes(
        tmp_path / "routes.yaml",
        legacy,
        candidate,
        methods="[GET, POST]",
        shadow_options="    shadow:\n"
        "      writes: {marker: true, rewrite_idempotency_key: true, target_dry_run: true}",
    )
    gateway = gateway_process(routes, flags, {"SHADOW_QUEUE_URL": queue_url}, legacy_url=legacy.url)
    spoofed = {"X-Strangler-Shadow": "1", "Idempotency-Key": "order-42"}

    outside = requests.get(f"{gateway.url}/elsewhere", headers=spoofed, timeout=5)
    write = requests.post(f"{gateway.url}/items", json={"sku": "A-1"}, headers=spoofed, timeout=5)

    assert outside.status_code == write.status_code == 200
    (to_legacy_outside,) = legacy.requests_to("/elsewhere")
    (to_legacy,) = legacy.requests_to("/items")
    assert to_legacy_outside.header("X-Strangler-Shadow") is None
    assert to_legacy.header("X-Strangler-Shadow") is None
    assert to_legacy.header("Idempotency-Key") == "order-42"
    (pair,) = read_pairs(queue_url, expect=1)
    (to_candidate,) = candidate.requests_to("/items")
    assert to_candidate.header("X-Strangler-Shadow") == "1"
    assert to_candidate.header("Idempotency-Key").startswith("shadow-")
    assert to_candidate.header("Idempotency-Key") != "order-42"
    assert to_candidate.body == to_legacy.body == b'{"sku": "A-1"}'
    assert pair.method == "POST"
    assert pair.request_body == b'{"sku": "A-1"}'


def test_pairs_land_on_the_rabbitmq_exchange_under_the_routes_routing_key(
    make_standin, gateway_process, tmp_path, flags
):
    suffix = uuid.uuid4().hex[:12]
    exchange, queue = f"test.shadow.{suffix}", f"test.shadow.comparator.{suffix}"
    url = f"{BROKER}?shadow_exchange={exchange}&shadow_queue={queue}"
    open_reader(url).close()  # declares the queue and binds it, so nothing published is lost
    try:
        legacy, candidate = make_standin("legacy"), make_standin("candidate")
        routes = shadow_routes(tmp_path / "routes.yaml", legacy, candidate)
        gateway = gateway_process(routes, flags, {"SHADOW_QUEUE_URL": url}, legacy_url=legacy.url)

        response = requests.get(
            f"{gateway.url}/items/5", headers={"Authorization": "Token secret-token"}, timeout=5
        )

        assert response.status_code == 200
        (pair,) = read_pairs(url, expect=1)
        assert pair.route == "items.shadow"
        assert pair.path == "/items/5"
        assert pair.request_headers["authorization"] == "<redacted>"
        assert pair.candidate.json()["upstream"] == "candidate"
    finally:
        with Connection(BROKER) as connection:
            channel = connection.channel()
            KombuQueue(queue, channel=channel).delete()
            KombuExchange(exchange, type="topic", channel=channel).delete()


def test_an_unreachable_queue_costs_the_client_nothing_and_the_lost_pairs_are_counted(
    make_standin, gateway_process, tmp_path, flags
):
    legacy, candidate = make_standin("legacy"), make_standin("candidate")
    routes = shadow_routes(tmp_path / "routes.yaml", legacy, candidate)
    nowhere = f"amqp://guest:guest@127.0.0.1:{free_port()}//"  # nothing listens there
    metrics_port = free_port()
    gateway = gateway_process(
        routes,
        flags,
        {"SHADOW_QUEUE_URL": nowhere, "GATEWAY_METRICS_PORT": str(metrics_port)},
        legacy_url=legacy.url,
    )

    answers = [requests.get(f"{gateway.url}/items/{n}", timeout=5) for n in range(3)]

    assert [answer.status_code for answer in answers] == [200, 200, 200]
    assert [answer.json()["upstream"] for answer in answers] == ["legacy"] * 3
    dropped = 0.0
    for _ in range(100):  # the publisher thread gives up on each pair in the background
        dropped = scrape(metrics_port, "strangler_shadow_pairs_dropped_total", reason="publish_failed")
        if dropped >= 3:
            break
        time.sleep(0.1)
    assert dropped == 3
    assert scrape(metrics_port, "strangler_shadow_mirrored_total", route="items.shadow") == 3


def scrape(port: int, name: str, **labels: str) -> float:
    """One sample of the gateway's Prometheus endpoint (0 when absent)."""
    text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    return 0.0
