"""One canonical request, decided once: the target the gateway routes on is byte for byte the target the
upstream receives. Pure tables, then a differential test with a corpus of tricky targets and a Hypothesis
version over generated ones, both against a real gateway in front of two stand-in upstreams."""

from __future__ import annotations

import http.client
import socket

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from strangler_proxy.canonical import Refused, canonical_target, header_problem, valid_host
from strangler_proxy.routes import match_route
from strangler_proxy.routes_parser import parse_routes

from .conftest import write_flags_file, write_routes

ROUTES = """\
upstreams:
  legacy: {legacy}
  product: {product}
routes:
  - id: ops.internal
    path: ^/(metrics|internal)(/.*)?$
    legacy: null
    target: null
  - id: catalog.read
    methods: [GET, HEAD]
    path: ^/api/v1/catalog/(categories|products(/[0-9]+)?)$
    target: product
    flag: route.catalog.read
  - id: auth.login
    methods: [POST]
    path: ^/api/v1/accounts/(login|tokens)$
    target: product
    flag: route.catalog.read
  - id: api.v2
    path: ^/api/v2(/.*)?$
    legacy: null
    target: null
"""


@pytest.mark.parametrize(
    ("raw", "path", "query", "decoded"),
    [
        ("/a/b?x=1&y", "/a/b", "x=1&y", "/a/b"),
        ("/api/v1/catalog/products/%31", "/api/v1/catalog/products/%31", "", "/api/v1/catalog/products/1"),
        ("/a;p=1/b", "/a;p=1/b", "", "/a;p=1/b"),
        ("/x?next=/y?z", "/x", "next=/y?z", "/x"),
        ("/%E2%82%AC", "/%E2%82%AC", "", "/\u20ac"),
    ],
)
def test_a_target_is_kept_byte_for_byte_and_decoded_only_for_routing(raw, path, query, decoded):
    target = canonical_target(raw)
    assert (target.raw, target.path, target.query, target.route_path) == (raw, path, query, decoded)


def test_an_empty_query_is_dropped_from_the_canonical_target():  # found by Hypothesis: the client drops it
    assert canonical_target("/a?").raw == "/a"


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("/metrics#x", "bad_request_target"),
        ("/api/v2#/x", "bad_request_target"),
        ("/a?b#c", "bad_request_target"),
        ("/a b", "bad_request_path"),
        ("/a\x00", "bad_request_path"),
        ("/\u00e9", "bad_request_path"),
        ("", "bad_request_path"),
        ("*", "bad_request_path"),
        ("/a/../b", "bad_request_path"),
        ("/a/%2e%2e/b", "bad_request_path"),
        ("/a%2Fb", "bad_request_path"),
        ("//a", "bad_request_path"),
        ("/%ff", "bad_request_path"),
    ],
)
def test_targets_that_could_route_differently_are_refused(raw, code):
    with pytest.raises(Refused) as refused:
        canonical_target(raw)
    assert refused.value.code == code


@pytest.mark.parametrize(
    ("fields", "bad"),
    [
        (((b"Host", b"s"), (b"X-A", b"1")), False),
        (((b"X-A", b"one\r\n two"),), True),  # obs-fold as mitmproxy keeps it
        (((b"X-A", b"a\rb"),), True),  # bare CR
        (((b"X-A", b"a\x00b"),), True),
        (((b"X A", b"1"),), True),
        (((b"X-A ", b"1"),), True),  # whitespace before the colon
    ],
)
def test_header_fields_with_line_breaks_or_bad_names_are_a_problem(fields, bad):
    assert (header_problem(fields) is not None) is bad


@pytest.mark.parametrize(
    ("host", "ok"),
    [
        ("techstore.example", True),
        ("techstore.example:8080", True),
        ("127.0.0.1:8000", True),
        ("[::1]:8080", True),
        ("a_b.example", False),
        ("evil.example/x", False),
        ("host:99999", False),
        ("host:", False),
        ("", False),
    ],
)
def test_hosts_are_host_and_optional_port(host, ok):
    assert valid_host(host) is ok


# --- against a real gateway -----------------------------------------------------------------------------


@pytest.fixture
def edge(tmp_path, gateway_process, make_standin):
    legacy, product = make_standin("legacy"), make_standin("product")
    routes = write_routes(tmp_path / "routes.yaml", ROUTES.format(legacy=legacy.url, product=product.url))
    flags = write_flags_file(tmp_path / "flags.json", enabled={"route.catalog.read": True})
    gateway = gateway_process(routes_yaml=routes, flags_file=flags, legacy_url=legacy.url)
    table = parse_routes(ROUTES.format(legacy=legacy.url, product=product.url))
    return gateway, table, (legacy, product)


def send(gateway, method: str, target: str) -> http.client.HTTPResponse:
    connection = http.client.HTTPConnection("127.0.0.1", gateway.port, timeout=30)
    try:
        connection.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
        connection.putheader("Host", "techstore.example")
        connection.endheaders()
        answer = connection.getresponse()
        answer.read()
        return answer
    finally:
        connection.close()


def check_one(gateway, table, standins, method: str, target: str) -> None:
    """Either the gateway refused the target with 400 and no upstream saw it, or the upstream received
    exactly the canonical target, and routing that very target gives the route the gateway reported."""
    before = [len(s.received) for s in standins]
    answer = send(gateway, method, target)
    new = [(s.name, r.path) for s, count in zip(standins, before, strict=True) for r in s.received[count:]]
    try:
        canonical = canonical_target(target)
    except Refused:
        assert (answer.status, new) == (400, []), (target, answer.status, new)
        return
    route = match_route(table.routes, method, canonical.route_path)
    expected_route = route.id if route else "default"
    assert answer.getheader("X-Strangler-Route") == expected_route, target
    if route is not None and route.target is None:  # answered by the gateway itself
        assert (answer.status, new) == (404, []), target
        return
    assert answer.status == 200, (target, answer.status)
    assert [path for _, path in new] == [canonical.raw], target  # byte for byte
    assert new[0][0] == answer.getheader("X-Strangler-Upstream"), target


CORPUS = [
    ("GET", "/api/v1/catalog/products/1"),
    ("GET", "/api/v1/catalog/products/1?x=1&x=2"),
    ("GET", "/api/v1/catalog/products/%31"),  # an encoded digit routes like the digit, and is sent as is
    ("GET", "/api/v1/catalog/products;x=1"),  # a ; parameter: not the route's path
    ("GET", "/API/v1/catalog/products"),  # case matters
    ("GET", "/api/v1/catalog/products/1#frag"),
    ("GET", "/metrics#x"),
    ("GET", "/metrics%23x"),  # an escaped # is a path character, not a fragment
    ("GET", "/metrics"),
    ("GET", "/api/v2#/x"),
    ("GET", "/api/v2/x?y#z"),
    ("POST", "/api/v1/accounts/login#x"),
    ("GET", "/api/v1/catalog/./products"),
    ("GET", "/api/v1/catalog/%2e/products"),
    ("GET", "/api/v1/catalog/products/..%2f1"),
    ("GET", "/api/v1/catalog//products"),
    ("GET", "/api/v1/catalog/products%2F1"),
    ("GET", "http://evil.example/api/v1/catalog/products"),  # absolute-form: origin-form upstream
    ("GET", "http://evil.example/metrics#x"),
    ("GET", "/%E2%82%AC?q=%20"),
]


def test_a_corpus_of_tricky_targets_reaches_the_upstream_exactly_as_routed(edge):
    gateway, table, standins = edge
    for method, target in CORPUS:
        if target.startswith("http://"):
            answer = send(gateway, method, target)
            origin = "/" + target.split("/", 3)[3]
            if "#" in origin:
                assert answer.status == 400
            else:
                assert answer.status == 200
                assert standins[1].received[-1].path == origin
            continue
        check_one(gateway, table, standins, method, target)


def test_pipelined_requests_are_each_made_canonical(edge):
    gateway, _, (legacy, product) = edge
    two = (
        b"GET /api/v1/catalog/products/1 HTTP/1.1\r\nHost: s\r\n\r\n"
        b"GET /metrics#x HTTP/1.1\r\nHost: s\r\nConnection: close\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=30) as sock:
        sock.sendall(two)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    assert data.count(b"HTTP/1.1 200") == 1
    assert data.count(b"HTTP/1.1 400") == 1
    assert [r.path for r in product.received] == ["/api/v1/catalog/products/1"]
    assert legacy.received == []


PIECES = ["/", "/", "api", "v1", "v2", "catalog", "products", "metrics", "1", ".", "..", "%2e", "%2E", "%2f",
          "%31", "%23", "%3F", ";", "?", "#", "=", "&", "%", "%zz", "~", "!", "$", "'", "()", "+", ",", "@",
          ":", "[", "]", "%20", "%00", "%e2%82%ac", "A", "_"]  # fmt: skip


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    method=st.sampled_from(["GET", "POST", "HEAD"]),
    tail=st.lists(st.sampled_from(PIECES), max_size=8),
)
def test_generated_targets_reach_the_upstream_exactly_as_routed(edge, method, tail):
    gateway, table, standins = edge
    target = "/" + "".join(tail)
    if method == "HEAD":
        method = "GET"  # HEAD answers have no body to check; the routing rule is the same
    check_one(gateway, table, standins, method, target)
