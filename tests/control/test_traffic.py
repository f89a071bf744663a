"""Traffic record and replay against a real gateway process (mitmdump with the addon chain) in front of
stand-in upstreams: `traffic record` switches the gateway's Recorder on for a route, bounded by count or
time, and writes one flow file in mitmproxy's format without credentials; `traffic replay` sends it to a
candidate and, with --compare, the shadow comparator's report names the field a candidate renders
differently. The commands run in-process (call_command); the gateway and upstreams are real processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
from django.core.management import call_command
from mitmproxy import io as flow_io

from contracts.recording import REDACTED
from control.errors import ControlError
from control.traffic.cli import DifferencesFound
from control.traffic.record import traffic_record
from tests.strangler_proxy import conftest as gateway_fixtures
from tests.strangler_proxy.conftest import StandinUpstream, start_gateway, write_flags_file, write_routes

make_standin = gateway_fixtures.make_standin

SECRET = "Token user-secret-1234"


def product(received) -> tuple[int, dict]:
    product_id = received.path.split("?")[0].rsplit("/", 1)[-1]
    return 200, {"id": product_id, "price": f"{product_id}.50", "name": f"Product {product_id}"}


def price_as_number(received) -> tuple[int, dict]:
    status, document = product(received)
    return status, {**document, "price": float(document["price"])}


@pytest.fixture(scope="module")
def recording_gateway(tmp_path_factory):
    """One gateway for the module (its start-up costs seconds); each test records into its own files."""
    tmp = tmp_path_factory.mktemp("traffic-gateway")
    legacy = StandinUpstream("legacy").start()
    legacy.responder = product
    routes = write_routes(
        tmp / "routes.yaml",
        f"""
upstreams:
  legacy: {legacy.url}
  product: {legacy.url}
routes:
  - id: catalog.read
    methods: [GET, POST]
    path: ^/api/v1/catalog/
    target: product
    flag: route.catalog.read
  - id: auth.login
    methods: [POST]
    path: ^/api/v1/accounts/login$
    target: product
    flag: route.auth.login
""",
    )
    control = tmp / "traffic" / "record.json"
    gateway = start_gateway(
        log_path=tmp / "gateway.log",
        routes_yaml=routes,
        flags_file=write_flags_file(tmp / "flags.json"),
        legacy_url=legacy.url,
        env={"GATEWAY_RECORD_CONTROL": str(control)},
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ROUTES_FILE", str(routes))
        yield gateway, control
    gateway.stop()
    legacy.stop()


def record_while(
    control: Path, output: Path, traffic, *, stop_after: bool = True, workers: int = 1, **bounds
) -> dict:
    """Run `traffic record` in a thread, send `traffic()` once each of the gateway's `workers` records, then
    (`stop_after`) stop the recording as Ctrl-C would; return its result."""
    result: dict = {}
    stop = bounds.setdefault("stop", threading.Event())

    def work() -> None:
        try:
            result["value"] = traffic_record(
                routes=bounds.pop("routes", ["catalog.read"]),
                seconds=bounds.pop("seconds", 30.0),
                max_flows=bounds.pop("max_flows", 1000),
                output=output,
                control=control,
                stop=bounds.pop("stop", None),
                poll=0.1,
            )
        except Exception as exc:
            result["error"] = exc

    thread = threading.Thread(target=work)
    thread.start()
    parts = control.parent / "parts"
    deadline = time.monotonic() + 10  # each worker sees the request within its poll: it creates its part
    while len(list(parts.glob("*.flows"))) < workers and time.monotonic() < deadline:
        time.sleep(0.05)
    traffic()
    if stop_after:
        stop.set()
    thread.join(timeout=60)
    if "error" in result:
        raise result["error"]
    return result["value"]


def browse(gateway, count: int, **extra) -> None:
    session = requests.Session()
    for n in range(1, count + 1):
        answer = session.get(
            f"{gateway.url}/api/v1/catalog/products/{n}?access_token=qs-secret",
            headers={"Authorization": SECRET},
            timeout=10,
            **extra,
        )
        assert answer.status_code == 200


def test_a_recording_stops_at_its_count_holds_no_credential_and_opens_in_mitmdump(
    recording_gateway, tmp_path
):
    gateway, control = recording_gateway
    output = tmp_path / "catalog.flows"

    def traffic() -> None:
        browse(gateway, 12)
        requests.post(f"{gateway.url}/api/v1/accounts/login", json={"password": "pw-secret"}, timeout=10)

    result = record_while(control, output, traffic, stop_after=False, max_flows=8)

    assert (result.flows, result.ended_by, result.processes) == (8, "count", 1)
    assert result.by_route == {"catalog.read": 8}
    raw = output.read_bytes()
    for secret in (b"user-secret-1234", b"qs-secret", b"pw-secret"):
        assert secret not in raw
    with open(output, "rb") as handle:
        flows = list(flow_io.FlowReader(handle).stream())
    assert [f.request.path.split("?")[0] for f in flows] == [
        f"/api/v1/catalog/products/{n}" for n in range(1, 9)
    ]
    assert flows[0].request.headers["Authorization"] == REDACTED
    assert json.loads(flows[0].response.content) == {"id": "1", "price": "1.50", "name": "Product 1"}
    assert not control.exists()
    assert not list((control.parent / "parts").iterdir())  # the parts were merged and removed
    listed = subprocess.run(
        [str(Path(sys.executable).parent / "mitmdump"), "-n", "-r", str(output), "--flow-detail", "1"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.count("GET ") == 8


def test_a_recording_ends_at_its_time_or_when_stopped(recording_gateway, tmp_path):
    gateway, control = recording_gateway
    timed = record_while(
        control, tmp_path / "timed.flows", lambda: browse(gateway, 3), stop_after=False, seconds=2.0
    )
    assert (timed.flows, timed.ended_by) == (3, "time")

    stop = threading.Event()

    def traffic_then_stop() -> None:
        browse(gateway, 2)
        stop.set()

    stopped = record_while(
        control, tmp_path / "stopped.flows", traffic_then_stop, stop_after=False, stop=stop, seconds=300.0
    )
    assert (stopped.flows, stopped.ended_by) == (2, "interrupted")
    assert stopped.seconds < 60


def test_without_a_gateway_polling_the_request_the_recording_fails_with_one_reason(tmp_path, monkeypatch):
    with pytest.raises(ControlError) as failed:
        traffic_record(
            routes=["catalog.read"],
            seconds=0.5,
            max_flows=10,
            output=tmp_path / "x.flows",
            control=tmp_path / "nobody" / "record.json",
            poll=0.1,
        )
    assert failed.value.code == "no_gateway"
    assert "GATEWAY_RECORD_CONTROL" in failed.value.message
    with pytest.raises(ControlError, match=r"not in the route table: no\.such\.route"):
        traffic_record(
            routes=["no.such.route"],
            seconds=1,
            max_flows=1,
            output=tmp_path / "y",
            control=tmp_path / "c.json",
        )


def test_a_replay_against_a_candidate_with_a_planted_difference_names_the_field(
    recording_gateway, make_standin, tmp_path, capsys
):
    gateway, control = recording_gateway
    output = tmp_path / "catalog.flows"
    record_while(control, output, lambda: browse(gateway, 10))
    same, different = make_standin("same"), make_standin("different")
    same.responder, different.responder = product, price_as_number

    call_command("traffic", "replay", str(output), "--target", same.url, "--compare", "--json")
    clean = json.loads(capsys.readouterr().out)
    (route,) = clean["report"]["routes"]
    assert (route["route"], route["samples"], route["match_rate"], route["real_mismatches"]) == (
        "catalog.read",
        10,
        100.0,
        0,
    )
    assert {r.header("Authorization") for r in same.received} == {None}  # credentials never replayed
    assert same.received[0].path == "/api/v1/catalog/products/1?access_token=%3Credacted%3E"

    report_file = tmp_path / "replay-report.html"
    with pytest.raises(DifferencesFound) as found:
        call_command(
            "traffic",
            "replay",
            str(output),
            "--target",
            different.url,
            "--compare",
            "--json",
            "-o",
            str(report_file),
        )
    assert found.value.message == "the candidate answers differently at catalog.read: body.price"
    (route,) = json.loads(capsys.readouterr().out)["report"]["routes"]
    assert [p["path"] for p in route["paths"] if p["real"]] == ["body.price"]
    assert route["match_rate"] == 0.0
    assert route["examples"]["body.price"][0]["differences"][0]["path"] == "body.price"
    html = report_file.read_text()
    assert html.startswith("<!DOCTYPE html>")
    assert "body.price" in html


def test_writes_are_replayed_only_when_asked_and_then_as_marked_dry_runs(
    recording_gateway, make_standin, tmp_path
):
    gateway, control = recording_gateway
    output = tmp_path / "writes.flows"

    def traffic() -> None:
        browse(gateway, 1)
        requests.post(
            f"{gateway.url}/api/v1/catalog/products/7",
            json={"name": "x"},
            headers={"Idempotency-Key": "key-1"},
            timeout=10,
        )

    record_while(control, output, traffic)
    candidate = make_standin("candidate")
    candidate.responder = product
    call_command("traffic", "replay", str(output), "--target", candidate.url, "--no-progress")
    assert [r.method for r in candidate.received] == ["GET"]

    call_command(
        "traffic", "replay", str(output), "--target", candidate.url, "--include-writes", "--no-progress"
    )
    post = candidate.received[-1]
    assert post.method == "POST"
    assert post.header("X-Strangler-Shadow") == "1"
    assert post.header("Idempotency-Key").startswith("replay-")
    assert post.header("Idempotency-Key") != "key-1"


def test_a_candidate_that_never_answers_is_an_unusable_target(recording_gateway, make_standin, tmp_path):
    gateway, control = recording_gateway
    output = tmp_path / "catalog.flows"
    record_while(control, output, lambda: browse(gateway, 2))
    gone = make_standin("gone")
    gone.stop()
    with pytest.raises(ControlError) as failed:
        call_command("traffic", "replay", str(output), "--target", gone.url, "--compare", "--no-progress")
    assert failed.value.code == "target_unavailable"
    with pytest.raises(ControlError) as bad:
        call_command("traffic", "replay", str(tmp_path / "routes.yaml"), "--target", gone.url)
    assert bad.value.code == "bad_recording"


def test_every_worker_of_the_multi_process_gateway_records_and_the_parts_merge_in_time_order(tmp_path):
    """`python -m strangler_proxy --workers 2`: each worker picks the request up (its part appears at once)
    and records what it answered; the file holds both workers' flows, oldest first."""
    from bench.rollout_drill import start_runner

    legacy = StandinUpstream("legacy").start()
    legacy.responder = product
    control = tmp_path / "traffic" / "record.json"
    env = {
        **os.environ,
        "FLAGS_FILE": str(write_flags_file(tmp_path / "flags.json")),
        "GATEWAY_RECORD_CONTROL": str(control),
        "MONOLITH_URL": legacy.url,
        "STRANGLER_VAR_DIR": str(tmp_path),
    }
    gateway = start_runner(tmp_path / "runner.log", legacy_url=legacy.url, workers=2, env=env)
    try:

        def traffic() -> None:
            for n in range(1, 41):  # a new connection each: the kernel spreads them over both workers
                answer = requests.get(f"{gateway.url}/api/v1/catalog/products/{n}", timeout=10)
                assert answer.status_code == 200

        result = record_while(control, tmp_path / "both.flows", traffic, workers=2)
    finally:
        gateway.stop()
        legacy.stop()
    assert (result.processes, result.flows) == (2, 40)
    with open(tmp_path / "both.flows", "rb") as handle:
        flows = list(flow_io.FlowReader(handle).stream())
    starts = [f.request.timestamp_start for f in flows]
    assert starts == sorted(starts)
