"""routes.yaml `shadow:` options and the write-safety rule: parser tables, and the decisions the Shadow addon
makes from them (sampling, copy headers, the rewritten idempotency key) as pure functions."""

from __future__ import annotations

import json
import textwrap

import pytest

from flags.config import BOOTSTRAP_FILE
from strangler_proxy.routes import ShadowOptions, Upstream, WriteSafety
from strangler_proxy.routes_parser import RoutesError, load_routes, parse_routes
from strangler_proxy.routing import DEFAULT_ROUTES_FILE
from strangler_proxy.shadow_copies import (
    RECEIVED_HEADER,
    SHADOW_HEADER,
    copy_headers,
    is_write,
    sampled,
    shadow_idempotency_key,
)

FLAGS = frozenset({"route.catalog.read"})
SAFE_WRITES = "writes: {marker: true, rewrite_idempotency_key: true, target_dry_run: true}"


def table(route_lines: str) -> str:
    """A table whose only route (starting at line 7) is a shadow route plus `route_lines`."""
    return (
        "upstreams:\n  legacy: http://127.0.0.1:8000\n  legacy2: http://127.0.0.1:8001\n"
        "  product: http://127.0.0.1:8101\nroutes:\n"
        "  - id: r1\n    path: ^/x$\n    target: product\n    flag: route.catalog.read\n    mode: shadow\n"
        + textwrap.indent(textwrap.dedent(route_lines).strip("\n"), "    ")
        + "\n"
    )


def parse(text: str):
    return parse_routes(text, source="routes.yaml", env={}, known_flags=FLAGS)


@pytest.mark.parametrize(
    ("route_lines", "expected"),
    [
        ("methods: [GET, HEAD]", ShadowOptions()),
        ("methods: [GET, OPTIONS]\nshadow: {}", ShadowOptions()),
        (
            "methods: [GET]\nshadow: {secondary: legacy2, candidate_repeats: 2, sample: 12.5, timeout: 2,"
            " bulkhead: 4}",
            ShadowOptions(
                secondary=Upstream("legacy2", "http", "127.0.0.1", 8001),
                candidate_repeats=2,
                sample=12.5,
                timeout=2.0,
                bulkhead=4,
            ),
        ),
        (f"methods: [POST]\nshadow: {{{SAFE_WRITES}}}", ShadowOptions(writes=WriteSafety())),
        (f"shadow: {{{SAFE_WRITES}, sample: 1}}", ShadowOptions(sample=1.0, writes=WriteSafety())),
    ],
    ids=["read defaults", "empty options", "every option", "declared POST", "every method declared"],
)
def test_shadow_options_parse_with_their_defaults(route_lines, expected):
    (route,) = parse(table(route_lines)).routes

    assert route.shadow == expected


# (name, route lines, line of the problem, words of the message)
BAD_SHADOW_ROUTES = [
    ("POST without writes", "methods: [POST]", 10, "would mirror writes (POST) to the target"),
    ("every method without writes", "# no methods: every method", 10, "(DELETE, PATCH, POST, PUT)"),
    ("GET and PUT with empty options", "methods: [GET, PUT]\nshadow: {}", 12, "would mirror writes (PUT)"),
    (
        "dry run not promised",
        "methods: [POST]\nshadow:\n  writes:\n    {marker: true, rewrite_idempotency_key: true,"
        " target_dry_run: false}",
        14,
        "shadow.writes.target_dry_run must be true",
    ),
    (
        "key rewrite missing",
        "methods: [POST]\nshadow:\n  writes: {marker: true, target_dry_run: true}",
        13,
        "shadow.writes.rewrite_idempotency_key is required",
    ),
    ("writes not a mapping", "methods: [POST]\nshadow: {writes: yes}", 12, "shadow.writes must be a mapping"),
    ("unknown shadow key", "methods: [GET]\nshadow: {mirror: true}", 12, "unknown key 'mirror'"),
    ("unknown secondary", "methods: [GET]\nshadow: {secondary: legacy3}", 12, "unknown upstream 'legacy3'"),
    ("secondary is the target", "methods: [GET]\nshadow: {secondary: product}", 12, "not the target"),
    ("three candidate answers", "methods: [GET]\nshadow: {candidate_repeats: 3}", 12, "1 or 2"),
    ("sample above 100", "methods: [GET]\nshadow: {sample: 150}", 12, "percentage"),
    ("sample zero", "methods: [GET]\nshadow: {sample: 0}", 12, "percentage"),
    ("copy timeout zero", "methods: [GET]\nshadow: {timeout: 0}", 12, "shadow.timeout must be greater"),
]


@pytest.mark.parametrize(
    ("route_lines", "line", "words"),
    [case[1:] for case in BAD_SHADOW_ROUTES],
    ids=[case[0] for case in BAD_SHADOW_ROUTES],
)
def test_unsafe_or_wrong_shadow_routes_are_refused_with_their_line(route_lines, line, words):
    text = table(route_lines)

    with pytest.raises(RoutesError) as refused:
        parse(text)

    assert any(at == line and words in message for at, message in refused.value.problems), refused.value
    assert f"routes.yaml:{line}: " in str(refused.value)


def test_shadow_options_on_a_route_that_is_not_in_shadow_mode_are_refused():
    text = table("methods: [GET]\nshadow: {sample: 5}").replace("mode: shadow", "mode: route")

    with pytest.raises(RoutesError) as refused:
        parse(text)

    assert "'shadow' options need mode: shadow" in str(refused.value)


def test_the_shipped_payments_shadow_route_declares_how_its_mirrored_writes_are_made_safe():
    bootstrap = {f["name"] for f in json.loads(BOOTSTRAP_FILE.read_text())["features"]}

    routes = {
        route.id: route for route in load_routes(DEFAULT_ROUTES_FILE, env={}, known_flags=bootstrap).routes
    }

    charge = routes["payments.charge"]
    assert charge.mode == "shadow"
    assert charge.methods == {"POST"}
    assert charge.shadow.writes == WriteSafety()


# --- the addon's pure decisions ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "write"),
    [("GET", False), ("HEAD", False), ("OPTIONS", False), ("POST", True), ("PUT", True), ("DELETE", True)],
)
def test_only_get_head_and_options_count_as_reads(method, write):
    assert is_write(method) is write


def test_sampling_is_sticky_per_user_and_close_to_the_percentage():
    users = [f"user:{n}" for n in range(4000)]

    first = [sampled("catalog.read", user, 25) for user in users]
    second = [sampled("catalog.read", user, 25) for user in users]

    assert first == second
    assert 900 < sum(first) < 1100
    assert all(sampled("catalog.read", user, 100) for user in users[:50])


def test_sampling_picks_different_users_on_different_routes():
    users = [f"user:{n}" for n in range(400)]

    on_a = {user for user in users if sampled("a", user, 50)}
    on_b = {user for user in users if sampled("b", user, 50)}

    assert on_a != on_b


def test_the_rewritten_idempotency_key_is_stable_secret_dependent_and_never_the_clients():
    key = shadow_idempotency_key(b"secret", "order-42")

    assert key == shadow_idempotency_key(b"secret", "order-42")
    assert key.startswith("shadow-")
    assert "order-42" not in key
    assert key != shadow_idempotency_key(b"other secret", "order-42")
    assert key != shadow_idempotency_key(b"secret", "order-43")


def test_a_copy_carries_exactly_one_shadow_marker_and_no_hop_by_hop_headers():
    fields = [
        ("Host", "gateway"),
        ("Connection", "keep-alive"),
        ("Content-Length", "3"),
        ("X-Strangler-Shadow", "0"),
        ("Accept", "application/json"),
        ("Idempotency-Key", "order-42"),
    ]

    read_copy = copy_headers(fields, write=False, secret=b"s")
    write_copy = copy_headers(fields, write=True, secret=b"s")

    assert [v for n, v in read_copy if n == SHADOW_HEADER] == ["1"]
    assert {n.lower() for n, _ in read_copy} == {"accept", "idempotency-key", "x-strangler-shadow"}
    assert dict(read_copy)["Idempotency-Key"] == "order-42"
    assert dict(write_copy)["Idempotency-Key"] == shadow_idempotency_key(b"s", "order-42")
    # A copy to a service says when the gateway received the request; a client-sent value never passes.
    timed = copy_headers(
        [*fields, ("X-Strangler-Shadow-Received", "1")], write=True, secret=b"s", received=12.5
    )
    assert [v for n, v in timed if n == RECEIVED_HEADER] == ["12.500000"]
