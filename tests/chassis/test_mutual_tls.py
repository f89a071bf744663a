"""Mutual TLS inside, against the chassis service served by real gunicorn with INTERNAL_TLS_* set: real
TLS sockets, certificates from `python -m chassis.certs` (and from a second, foreign CA)."""

from __future__ import annotations

import os
import socket
import ssl
import subprocess
import time

import pytest
import requests

from chassis.certs import certs_make
from chassis.internal_http import mount_internal_tls
from chassis.settings import DEV_INTERNAL_API_TOKEN
from kernel.mtls import MutualTls
from legacy_monolith.demo.processes import free_port, python_argv, stop_process_group

SERVICE = "tests.chassis.chassis_service"
TOKEN = {"Authorization": f"Bearer {DEV_INTERNAL_API_TOKEN}"}
CALLERS = ("chassis_service", "order_service", "payment_service")


def _context(folder, name, *, maximum=None) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(folder / "ca.crt")
    if name:
        context.load_cert_chain(folder / f"{name}.crt", folder / f"{name}.key")
    if maximum:
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.maximum_version = maximum
    return context


def _exchange(port: int, context: ssl.SSLContext) -> bytes:
    """One GET /internal/ping over a fresh TLS connection: the raw answer (TLS 1.3 servers report a refused
    client certificate after the client's side of the handshake, on the first read)."""
    request = f"GET /internal/ping HTTP/1.1\r\nHost: localhost\r\n{_header()}Connection: close\r\n\r\n"
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname="localhost") as tls,
    ):
        tls.sendall(request.encode())
        return tls.recv(65536)


def _header() -> str:
    return f"Authorization: {TOKEN['Authorization']}\r\n"


def _refused(port: int, context: ssl.SSLContext) -> None:
    """Handshake, then read before sending anything: a server that refuses the client's certificate says
    so with an alert right after the handshake (an accepted client would wait here for its timeout)."""
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname="localhost") as tls,
    ):
        tls.recv(1)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """The chassis service under gunicorn with mutual TLS on (SQLite: /internal/ping reads no rows)."""
    tmp = tmp_path_factory.mktemp("mtls")
    certs, foreign = tmp / "certs", tmp / "foreign"
    certs_make(folder=certs, services=CALLERS)
    certs_make(folder=foreign, services=("order_service",))  # the same name, another CA
    env = {
        **os.environ,
        "CHASSIS_DATABASE_URL": f"sqlite:///{tmp / 'chassis.sqlite3'}",
        "STRANGLER_VAR_DIR": str(tmp / "var"),
        "PROMETHEUS_MULTIPROC_DIR": str(tmp / "prom"),
        "INTERNAL_TLS_CERT": str(certs / "chassis_service.crt"),
        "INTERNAL_TLS_KEY": str(certs / "chassis_service.key"),
        "INTERNAL_TLS_CA": str(certs / "ca.crt"),
    }
    for name in ("REDIS_URL", "BROKER_URL"):
        env.pop(name, None)
    port = free_port()
    log = open(tmp / "service.log", "wb")  # noqa: SIM115
    process = subprocess.Popen(
        python_argv("-m", SERVICE, "serve", "--bind", f"127.0.0.1:{port}", "--workers", "1"),
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    allowed = _context(certs, "order_service")
    deadline = time.monotonic() + 30
    while True:
        assert process.poll() is None, (tmp / "service.log").read_text()[-3000:]
        try:
            _exchange(port, allowed)
            break
        except OSError:
            assert time.monotonic() < deadline, (tmp / "service.log").read_text()[-3000:]
            time.sleep(0.2)
    yield port, certs, foreign
    stop_process_group(process, 10)
    log.close()


def _session(certs, name) -> requests.Session:
    """The chassis's client for internal hops (REQUESTS_CA_BUNDLE in the environment changes nothing)."""
    mutual = MutualTls(str(certs / f"{name}.crt"), str(certs / f"{name}.key"), str(certs / "ca.crt"))
    return mount_internal_tls(requests.Session(), mutual)


def test_an_allowed_identity_with_the_token_passes(served):
    port, certs, _ = served
    answer = _session(certs, "order_service").get(f"https://localhost:{port}/internal/ping", headers=TOKEN)
    assert (answer.status_code, answer.json()) == (200, {"pong": True})


def test_a_valid_certificate_of_another_service_is_refused_even_with_the_token(served):
    port, certs, _ = served
    answer = _session(certs, "payment_service").get(f"https://localhost:{port}/internal/ping", headers=TOKEN)
    assert answer.status_code == 403
    assert answer.json()["code"] == "caller_not_allowed"
    assert answer.json()["extra"] == {"caller": "payment_service", "allowed": ["order_service"]}


def test_the_allowed_identity_still_needs_the_bearer_token(served):
    port, certs, _ = served
    answer = _session(certs, "order_service").get(f"https://localhost:{port}/internal/ping")
    assert answer.status_code == 401


def test_a_certificate_from_another_ca_is_refused_in_the_handshake(served):
    port, certs, foreign = served
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(certs / "ca.crt")  # trusts the server, presents a foreign certificate
    context.load_cert_chain(foreign / "order_service.crt", foreign / "order_service.key")
    with pytest.raises(ssl.SSLError, match="UNKNOWN_CA"):
        _refused(port, context)


def test_a_client_without_a_certificate_is_refused_in_the_handshake(served):
    port, certs, _ = served
    with pytest.raises(ssl.SSLError, match="CERTIFICATE_REQUIRED"):
        _refused(port, _context(certs, None))


def test_tls_1_2_is_refused(served):
    port, certs, _ = served
    with pytest.raises(ssl.SSLError, match=r"PROTOCOL_VERSION|UNSUPPORTED_PROTOCOL"):
        _refused(port, _context(certs, "order_service", maximum=ssl.TLSVersion.TLSv1_2))


def test_plain_http_gets_no_answer_from_the_tls_port(served):
    port, _, _ = served
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(f"http://127.0.0.1:{port}/internal/ping", headers=TOKEN, timeout=10)


def test_a_client_trusting_only_another_ca_refuses_this_server(served):
    port, _, foreign = served
    with pytest.raises(ssl.SSLError, match="CERTIFICATE_VERIFY_FAILED"):
        _refused(port, _context(foreign, "order_service"))


def test_a_consumer_fetches_the_publishers_event_keys_over_its_mutual_tls_client(served, settings):
    """EventVerifier's JWKS fetches go through this process's INTERNAL_TLS client, like every internal call:
    with it the publisher's internal mTLS port hands over its keys, without a client certificate it cannot
    (the event waits for a retry: KeysUnavailable), whatever the URL says."""
    from chassis.event_keys import EventVerifier, KeysUnavailable
    from contracts.event_trust import EVENT_KEYS_PATH

    port, certs, _ = served
    database = certs.parent / "chassis.sqlite3"  # the served process's: its event-keys table, made here
    env = {
        **os.environ,
        "CHASSIS_DATABASE_URL": f"sqlite:///{database}",
        "STRANGLER_VAR_DIR": str(certs.parent),
    }
    subprocess.run(
        python_argv("-m", SERVICE, "migrate", "--noinput"), env=env, check=True, capture_output=True
    )
    url = f"https://localhost:{port}{EVENT_KEYS_PATH}"
    [published] = _session(certs, "order_service").get(url, timeout=10).json()["keys"]
    settings.INTERNAL_TLS = MutualTls(
        str(certs / "order_service.crt"), str(certs / "order_service.key"), str(certs / "ca.crt")
    )
    verifier = EventVerifier("enforce", {"chassis_service": url})  # tls: settings.INTERNAL_TLS
    assert verifier.key_for("chassis_service", published["kid"]) is not None
    plain = EventVerifier("enforce", {"chassis_service": url}, tls=None)
    with pytest.raises(KeysUnavailable):
        plain.key_for("chassis_service", published["kid"])
