"""Traffic record and replay end to end: the shopping journey runs through the real gateway (shipped
routes.yaml, every flag off: the monolith answers) while `manage.py traffic record catalog.read auth.login`
(a real process, stopped with SIGINT as a person would) records it; the recording holds no password and no
token. Replayed with `traffic replay --target product --compare` against the REAL Product service, loaded
with the monolith's catalogue, the report is clean; against a candidate that renders the price as a number,
the report names exactly that field."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import requests
from django.core.management import call_command

from control.traffic.cli import DifferencesFound
from legacy_monolith.demo.__main__ import DEMO_STAFF
from legacy_monolith.demo.journey import Journey
from legacy_monolith.demo.processes import REPO_ROOT
from legacy_monolith.demo.stack import running_stack
from strangler_proxy.launch import DEFAULT_ROUTES
from tests.e2e.product_service import running_product_service
from tests.strangler_proxy.conftest import StandinUpstream, start_gateway, write_flags_file

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stack(e2e_database_url, tmp_path_factory):
    with running_stack(
        database_url=e2e_database_url, var_dir=tmp_path_factory.mktemp("replay-var")
    ) as running:
        yield running


@pytest.fixture(scope="module")
def product_service(stack, tmp_path_factory):
    """The Product service holding exactly the monolith's catalogue (its import endpoint, the ACL's
    translators: bench/catalog_service_load.py)."""
    with running_product_service(var_dir=tmp_path_factory.mktemp("replay-product")) as service:
        loaded = subprocess.run(
            [
                sys.executable,
                "-m",
                "bench.catalog_service_load",
                "--service-url",
                service.url,
                "--no-progress",
            ],
            cwd=REPO_ROOT,
            env={**os.environ, **stack.env, "INTERNAL_API_TOKEN": service.token},
            capture_output=True,
            text=True,
            check=False,
        )
        assert loaded.returncode == 0, loaded.stderr
        yield service


@pytest.fixture(scope="module")
def recording(stack, product_service, tmp_path_factory):
    """The journey through the gateway, recorded by `traffic record` (real process); returns the file,
    the command's summary and every answer the journey got. The Product service is loaded first: it holds
    the catalogue as the journey's reads saw it (its checkout then changes the monolith's stock)."""
    tmp = tmp_path_factory.mktemp("replay-recording")
    control = tmp / "traffic" / "record.json"
    gateway = start_gateway(
        log_path=tmp / "gateway.log",
        routes_yaml=DEFAULT_ROUTES,
        flags_file=write_flags_file(tmp / "flags.json"),
        legacy_url=stack.monolith_url,
        env={"MONOLITH_URL": stack.monolith_url, "GATEWAY_RECORD_CONTROL": str(control)},
    )
    output = tmp / "journey.flows"
    recorder = None
    try:
        recorder = subprocess.Popen(
            [
                sys.executable,
                "manage.py",
                "traffic",
                "record",
                "catalog.read",
                "auth.login",
                "--for",
                "10m",
                "--max",
                "1000",
                "-o",
                str(output),
                "--json",
            ],
            cwd=REPO_ROOT,
            env={**os.environ, "GATEWAY_RECORD_CONTROL": str(control)},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        parts = control.parent / "parts"
        deadline = time.monotonic() + 120  # the command's start-up, then the gateway's poll
        while not (parts.exists() and list(parts.glob("*.flows"))):
            assert recorder.poll() is None, recorder.communicate()
            assert time.monotonic() < deadline, "the gateway did not pick the recording up"
            time.sleep(0.1)
        requests.post(f"{stack.sandbox_url}/_sandbox/reset", json={}, timeout=10).raise_for_status()
        seen: list[requests.Response] = []
        session = requests.Session()
        session.hooks["response"].append(lambda r, *a, **k: seen.append(r))
        journey = Journey(
            base_url=gateway.url,
            sandbox_url=stack.sandbox_url,
            webhook_secret=stack.webhook_secret,
            staff_username=DEMO_STAFF[0],
            staff_password=DEMO_STAFF[1],
            http=session,
        )
        journey.run()
        recorder.send_signal(signal.SIGINT)  # a person's Ctrl-C: what was recorded is kept
        out, err = recorder.communicate(timeout=120)
        assert recorder.returncode == 0, err
        yield output, json.loads(out), seen
    finally:
        if recorder is not None and recorder.poll() is None:
            recorder.kill()
        gateway.stop()


def catalog_answers(seen: list[requests.Response]) -> list[requests.Response]:
    return [r for r in seen if "/api/v1/catalog/" in r.url]


def test_the_recording_holds_the_journeys_catalog_and_login_flows_without_credentials(recording):
    output, summary, seen = recording
    catalog = catalog_answers(seen)
    assert summary["ended_by"] == "interrupted"
    logins = [
        r for r in seen if r.request.method == "POST" and r.url.endswith(("/accounts/tokens", "/login"))
    ]
    assert summary["by_route"] == {"auth.login": len(logins), "catalog.read": len(catalog)}
    assert len(catalog) >= 5
    raw = output.read_bytes()
    token = next(r.json()["token"] for r in seen if r.url.endswith("/api/v1/accounts/tokens"))
    assert token.encode() not in raw
    assert b"Pw-" not in raw  # the journey's passwords start so
    assert b'"password":"<redacted>"' in raw


def test_replayed_against_the_product_service_the_report_is_clean(
    recording, product_service, tmp_path, capsys
):
    output, summary, _ = recording
    report = tmp_path / "replay.html"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PRODUCT_SERVICE_URL", product_service.url)  # --target product: the route table's name
        call_command(
            "traffic", "replay", str(output), "--target", "product", "--route", "catalog.read", "--compare",
            "--json", "-o", str(report),
        )  # fmt: skip
    result = json.loads(capsys.readouterr().out)
    (route,) = result["report"]["routes"]
    assert result["replay"]["skipped"] == {
        "route": summary["by_route"]["auth.login"]
    }  # logins: another route
    assert (route["route"], route["samples"], route["skipped"]) == (
        "catalog.read",
        summary["by_route"]["catalog.read"],
        0,
    )
    assert (route["match_rate"], route["real_mismatches"]) == (100.0, 0), route["paths"]
    assert "catalog.read" in report.read_text()


def test_against_a_candidate_with_a_planted_difference_the_report_names_the_field(
    recording, product_service, capsys
):
    output, _, _ = recording

    def price_as_number(received):
        # what the replay sent, as a real candidate would see it: the Host and X-Forwarded-* the gateway had
        # set (the service builds its pagination links from them), so only the planted price differs
        forwarded = {
            name: value
            for name, value in received.headers.items()
            if name.lower() == "host" or name.lower().startswith("x-forwarded-")
        }
        answer = requests.get(product_service.url + received.path, headers=forwarded, timeout=30)
        document = answer.json()
        for item in document.get("results", [document]) if isinstance(document, dict) else []:
            if isinstance(item, dict) and "price" in item:
                item["price"] = float(item["price"])
        return answer.status_code, document

    candidate = StandinUpstream("planted").start()
    candidate.responder = price_as_number
    try:
        with pytest.raises(DifferencesFound) as found:
            call_command(
                "traffic", "replay", str(output), "--target", candidate.url, "--route", "catalog.read",
                "--compare", "--json",
            )  # fmt: skip
    finally:
        candidate.stop()
    assert found.value.code == "differences_found"
    (route,) = json.loads(capsys.readouterr().out)["report"]["routes"]
    assert {p["path"] for p in route["paths"] if p["real"]} == {"body.price", "body.results[*].price"}
    assert route["real_mismatches"] > 0
