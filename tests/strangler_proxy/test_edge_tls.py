"""TLS 1.3 at the edge, with a real TLS client (CPython's ssl, OpenSSL) against the real runner
(`python -m strangler_proxy --tls-cert ... --tls-key ...`): TLS 1.3 works and TLS 1.2 is refused by default,
the certificate served is the configured one (not one minted by mitmproxy's CA), HSTS on HTTPS answers,
plain HTTP refused on the TLS port; mutual TLS to an upstream that requires a client certificate works with
the configured one and fails without it; the runner's probe endpoints."""

from __future__ import annotations

import http.client
import json
import ssl
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from .conftest import REPO, free_port
from .pki import Authority
from .test_server import alive, launch, wait_for


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pki")
    edge_ca = Authority(folder / "edge", "edge CA")
    upstream_ca = Authority(folder / "upstream", "upstream CA")
    clients_ca = Authority(folder / "clients", "gateway clients CA")
    return {
        "edge_ca": edge_ca,
        "edge": edge_ca.issue("edge"),
        "upstream_ca": upstream_ca,
        "upstream": upstream_ca.issue("upstream"),
        "clients_ca": clients_ca,
        "gateway_client": clients_ca.issue("gateway", client=True),
        "other_ca": Authority(folder / "other", "someone else"),
    }


@pytest.fixture
def runner(tmp_path, standin_upstream):
    started = []

    def start(*args: str, upstream: str | None = None, ready: bool = True):
        port = free_port()
        base = ["--workers", "1", "--addons", "passthrough", "--upstream", upstream or standin_upstream.url]
        run = launch(tmp_path / f"runner-{len(started)}.log", *base, *args, port=port)
        started.append(run)
        if ready:
            wait_for(lambda: "serving on" in run.log() or run.process.poll() is not None, "the runner")
            assert run.process.poll() is None, run.log()
        return run

    yield start
    for run in started:
        pids = run.workers()
        run.stop()
        for pid in pids:
            assert not alive(pid) or run.process.returncode is not None


def client_context(pki, *, version: ssl.TLSVersion) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(pki["edge_ca"].files.cert))
    context.minimum_version = context.maximum_version = version
    return context


def get(
    port: int, context: ssl.SSLContext, path: str = "/hello"
) -> tuple[http.client.HTTPResponse, bytes, bytes]:
    connection = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=30)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        body = response.read()
        return response, body, connection.sock.getpeercert(binary_form=True)
    finally:
        connection.close()


def edge_args(pki, *extra: str) -> list[str]:
    return ["--tls-cert", str(pki["edge"].cert), "--tls-key", str(pki["edge"].key), *extra]


def test_a_tls13_client_is_served_the_configured_certificate_with_hsts(runner, pki):
    run = runner(*edge_args(pki))
    response, body, served = get(run.port, client_context(pki, version=ssl.TLSVersion.TLSv1_3))
    assert response.status == 200
    assert json.loads(body)["path"] == "/hello"
    assert served == pki["edge"].der()  # the operator's certificate, not one from mitmproxy's CA
    assert response.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    assert "serving on https://" in run.log()


def test_a_tls12_client_is_refused_by_default(runner, pki):
    run = runner(*edge_args(pki))
    with pytest.raises(ssl.SSLError):
        get(run.port, client_context(pki, version=ssl.TLSVersion.TLSv1_2))


def test_the_minimum_version_is_configurable(runner, pki):
    run = runner(*edge_args(pki, "--tls-min-version", "TLS1_2", "--hsts-max-age", "600"))
    response, _, _ = get(run.port, client_context(pki, version=ssl.TLSVersion.TLSv1_2))
    assert response.status == 200
    assert response.headers["Strict-Transport-Security"] == "max-age=600; includeSubDomains"


def test_plain_http_on_the_tls_port_is_refused(runner, pki):
    run = runner(*edge_args(pki))
    answer = requests.get(f"http://127.0.0.1:{run.port}/hello", timeout=30)
    assert answer.status_code == 400
    assert answer.json()["code"] == "tls_required"
    assert "Strict-Transport-Security" not in answer.headers


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--tls-cert", "/nonexistent.pem", "--tls-key", "/nonexistent.key"], "No such file"),
        (["--tls-min-version", "TLS1_1"], "one of TLS1_2, TLS1_3"),
        (["--tls-key", "{edge_key}"], "go together"),
        (["--tls-cert", "{edge_cert}", "--tls-key", "{other_key}"], "does not match"),
    ],
)
def test_bad_tls_settings_stop_the_runner_with_one_line(pki, args, message):
    values = {"edge_cert": pki["edge"].cert, "edge_key": pki["edge"].key, "other_key": pki["upstream"].key}
    argv = [a.format(**values) for a in args]
    if "--tls-cert" not in argv and "--tls-key" not in argv:
        argv += edge_args(pki)
    result = subprocess.run(
        [sys.executable, "-m", "strangler_proxy", "--listen", f"127.0.0.1:{free_port()}", *argv],
        cwd=REPO, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


# ------------------------------------------------------------------------------------------- mTLS upstream


@pytest.fixture
def mtls_upstream(pki, request):
    """An HTTPS upstream that requires a client certificate from the gateway clients' CA. Marked
    `tls12_upstream`, it speaks TLS 1.2 at most: a missing client certificate fails the handshake itself."""

    class Echo(BaseHTTPRequestHandler):
        def do_GET(self):
            peer = self.connection.getpeercert()
            subject = dict(x[0] for x in peer["subject"]) if peer else {}
            body = json.dumps({"client": subject.get("commonName")}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki["upstream"].cert, pki["upstream"].key)
    context.load_verify_locations(cafile=str(pki["clients_ca"].files.cert))
    context.verify_mode = ssl.CERT_REQUIRED
    if request.node.get_closest_marker("tls12_upstream"):
        context.maximum_version = ssl.TLSVersion.TLSv1_2
    server = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_mutual_tls_to_an_upstream_that_requires_it(runner, pki, mtls_upstream):
    client = pki["gateway_client"]
    run = runner(
        "--upstream-client-cert", str(client.cert), "--upstream-client-key", str(client.key),
        "--upstream-ca", str(pki["upstream_ca"].files.cert), upstream=mtls_upstream,
    )  # fmt: skip
    answer = requests.get(f"{run.url}/hello", timeout=30)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"client": "gateway"}


@pytest.mark.tls12_upstream
def test_without_the_client_certificate_the_upstream_refuses_the_gateway(runner, pki, mtls_upstream):
    """Over TLS 1.2 the refusal ends the handshake: 502. (Over TLS 1.3 the server's `certificate required`
    alert comes after the client's side of the handshake is done; mitmproxy then logs the TLS error but,
    now and then, never answers the waiting client: a known gap, see the closing note of stop 22.)"""
    run = runner("--upstream-ca", str(pki["upstream_ca"].files.cert), upstream=mtls_upstream)
    answer = requests.get(f"{run.url}/hello", timeout=30)
    assert answer.status_code == 502


def test_an_upstream_whose_certificate_is_not_from_the_pinned_ca_is_refused(runner, pki, mtls_upstream):
    client = pki["gateway_client"]
    run = runner(
        "--upstream-client-cert", str(client.cert), "--upstream-client-key", str(client.key),
        "--upstream-ca", str(pki["other_ca"].files.cert), upstream=mtls_upstream,
    )  # fmt: skip
    answer = requests.get(f"{run.url}/hello", timeout=30)
    assert answer.status_code == 502


# ------------------------------------------------------------------------------------------- probes


def test_the_metrics_port_answers_liveness_and_readiness(tmp_path, standin_upstream):
    metrics_port, port = free_port(), free_port()
    env = {"FLAGS_FILE": str(tmp_path / "flags.json"), "FLAGS_AUDIT_LOG": str(tmp_path / "audit.log"),
           "MONOLITH_URL": standin_upstream.url}  # fmt: skip
    run = launch(
        tmp_path / "runner.log", "--workers", "2", "--upstream", standin_upstream.url,
        "--set", f"strangler_metrics_port={metrics_port}", port=port, env=env,
    )  # fmt: skip
    try:
        wait_for(lambda: "serving on" in run.log() or run.process.poll() is not None, "the runner")
        assert run.process.poll() is None, run.log()
        base = f"http://127.0.0.1:{metrics_port}"
        assert requests.get(f"{base}/healthz", timeout=10).json() == {"status": "ok"}
        assert requests.get(f"{base}/readyz", timeout=10).status_code == 200
        assert (
            "# TYPE strangler_rate_limit_backend_errors_total counter"
            in requests.get(f"{base}/metrics", timeout=10).text
        )
    finally:
        run.stop()
