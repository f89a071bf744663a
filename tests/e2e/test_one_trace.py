"""One trace across every hop, with real processes exporting spans over OTLP/HTTP (the OpenTelemetry SDK,
OTEL_EXPORTER_OTLP_ENDPOINT) to a collector this test runs (a real OTLP/HTTP endpoint decoding the SDK's
protobuf): a client's read goes gateway -> monolith -> Product service (through the ACL client), a staff
write goes gateway -> monolith -> outbox -> relay -> RabbitMQ -> the Product service's catalog consumer, and
every span of both carries the client's trace id."""

from __future__ import annotations

import json
import os
import threading
import uuid
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from legacy_monolith.demo.processes import free_port, manage, python_argv
from legacy_monolith.demo.stack import running_stack
from strangler_proxy.launch import DEFAULT_ROUTES
from tests.background import background, rabbitmq_vhost, wait_until
from tests.e2e.product_service import running_product_service
from tests.e2e.test_product_sync import MAKE_STAFF_TOKEN
from tests.strangler_proxy.conftest import start_gateway, write_flags_file

pytestmark = pytest.mark.e2e


class Collector:
    """An OTLP/HTTP trace endpoint: POST /v1/traces with ExportTraceServiceRequest protobuf bodies."""

    def __init__(self) -> None:
        self.spans: list[dict] = []
        self.lock = threading.Lock()
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                request = ExportTraceServiceRequest()
                request.ParseFromString(body)
                with collector.lock:
                    for resource_spans in request.resource_spans:
                        attributes = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
                        for scope in resource_spans.scope_spans:
                            for span in scope.spans:
                                collector.spans.append({
                                    "service": attributes.get("service.name"),
                                    "name": span.name,
                                    "kind": span.kind,
                                    "trace_id": span.trace_id.hex(),
                                    "span_id": span.span_id.hex(),
                                    "parent": span.parent_span_id.hex(),
                                })  # fmt: skip
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def of_trace(self, trace_id: str) -> list[dict]:
        with self.lock:
            return [s for s in self.spans if s["trace_id"] == trace_id]


@pytest.fixture(scope="module")
def collector():
    running = Collector()
    yield running
    running.server.shutdown()


@pytest.fixture(scope="module")
def telemetry_env(collector, monkeypatch_module):
    """Every process this module starts exports its spans to the collector, quickly."""
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": collector.url, "OTEL_BSP_SCHEDULE_DELAY": "200"}
    for key, value in env.items():
        monkeypatch_module.setenv(key, value)
    return env


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def test_a_read_and_a_write_are_each_one_trace_from_the_gateway_to_the_service_and_its_consumer(
    e2e_database_url, telemetry_env, collector, monkeypatch_module, tmp_path_factory
):
    tmp = tmp_path_factory.mktemp("one-trace")
    flags_file = write_flags_file(tmp / "flags.json")
    flags = {"FLAGS_FILE": str(flags_file), "FLAGS_AUDIT_LOG": str(tmp / "flags-audit.log")}
    for key, value in flags.items():
        monkeypatch_module.setenv(key, value)
    with (
        rabbitmq_vhost() as broker,
        running_product_service(var_dir=tmp / "service", env={"BROKER_URL": broker}) as service,
    ):
        monkeypatch_module.setenv("PRODUCT_SERVICE_URL", service.url)  # the monolith's ACL client
        seed = ("--users", "3", "--products", "40", "--orders", "0", "--seed", "5")
        with running_stack(database_url=e2e_database_url, var_dir=tmp / "stack", seed_args=seed) as stack:
            monolith_env = {**stack.env, **flags, "PRODUCT_SERVICE_URL": service.url,
                            "INTERNAL_API_TOKEN": service.token, "BROKER_URL": broker}  # fmt: skip
            manage("sync", "products", "backfill", "--no-progress", env=monolith_env)
            manage(
                "flags", "on", "monolith.catalog.read_from_service", "--actor", "trace-e2e", env=monolith_env
            )
            consumer = python_argv("-m", "extracted.product_service", "consume", "product_service.catalog")
            relay = python_argv("manage.py", "sync", "products", "follow", "--no-progress")
            gateway = start_gateway(
                log_path=tmp / "gateway.log",
                routes_yaml=DEFAULT_ROUTES,
                legacy_url=stack.monolith_url,
                env={**flags, "MONOLITH_URL": stack.monolith_url, "PRODUCT_SERVICE_URL": service.url},
            )
            try:
                with (
                    background(consumer, service.env, tmp / "consumer.log"),
                    background(relay, monolith_env, tmp / "relay.log"),
                ):
                    read_trace, write_trace = uuid.uuid4().hex, uuid.uuid4().hex
                    product = 7
                    read = requests.get(
                        f"{gateway.url}/api/v1/catalog/products/{product}",
                        headers={"traceparent": f"00-{read_trace}-00f067aa0ba902b7-01"},
                        timeout=30,
                    )
                    assert read.status_code == 200, read.text
                    token = (
                        manage("shell", "-c", MAKE_STAFF_TOKEN, env=stack.env).stdout.strip().splitlines()[-1]
                    )
                    write = requests.patch(
                        f"{gateway.url}/api/v1/catalog/products/{product}",
                        json={"name": "Renamed in one trace"},
                        headers={
                            "traceparent": f"00-{write_trace}-00f067aa0ba902b8-01",
                            "Authorization": f"Token {token.removeprefix('TOKEN ')}",
                        },
                        timeout=30,
                    )
                    assert write.status_code == 200, write.text

                    def hops(trace: str) -> dict[str, list[dict]]:
                        found = defaultdict(list)
                        for span in collector.of_trace(trace):
                            found[(span["service"], span["kind"])].append(span)
                        return found

                    server, consumer_kind = 2, 5  # OTLP SpanKind values
                    wanted_read = {("gateway", server), ("monolith", server), ("product_service", server)}
                    wait_until(lambda: wanted_read <= set(hops(read_trace)), "the read's spans", timeout=60)
                    wanted_write = {
                        ("gateway", server),
                        ("monolith", server),
                        ("product_service", consumer_kind),
                    }
                    wait_until(
                        lambda: wanted_write <= set(hops(write_trace)), "the write's spans", timeout=90
                    )
            finally:
                gateway.stop()

    read_spans = collector.of_trace(read_trace)
    by_id = {s["span_id"]: s for s in read_spans}
    service_span = next(s for s in read_spans if s["service"] == "product_service")
    monolith_span = by_id[service_span["parent"]]  # the service's parent is the monolith's span ...
    assert monolith_span["service"] == "monolith"
    assert by_id[monolith_span["parent"]]["service"] == "gateway"  # ... whose parent is the gateway's
    assert by_id[monolith_span["parent"]]["parent"] == "00f067aa0ba902b7"  # ... under the client's span
    assert json.loads(read.content)["id"] == product
    assert os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") == collector.url
