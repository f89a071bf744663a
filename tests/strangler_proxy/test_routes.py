"""routes.yaml parsing and validation, path safety, matching and deciding: pure functions, tables."""

import json
import textwrap

import pytest

from flags.config import BOOTSTRAP_FILE
from strangler_proxy.routes import (
    GATEWAY,
    UnsafePath,
    Upstream,
    decide,
    is_idempotent,
    match_route,
    route_path,
)
from strangler_proxy.routes_parser import RoutesError, interpolate, load_routes, parse_routes
from strangler_proxy.routing import DEFAULT_ROUTES_FILE

KNOWN_FLAGS = frozenset({"route.catalog.read", "route.orders.write", "route.payments.charge"})

VALID = """\
upstreams:
  legacy: ${MONOLITH_URL:-http://127.0.0.1:8000}
  product: http://product.internal:8101
defaults:
  timeout: 20
  bulkhead: 64
routes:
  - id: catalog.read
    methods: [get, HEAD]
    path: ^/api/v1/catalog/products(/[0-9]+)?$
    target: product
    flag: route.catalog.read
    timeout: 5
    bulkhead: 10
  - id: payments.charge
    methods: [POST]
    path: ^/api/v1/orders/checkout$
    target: product
    flag: route.payments.charge
    mode: shadow
    shadow:
      writes: {marker: true, rewrite_idempotency_key: true, target_dry_run: true}
  - id: v2.catalog
    path: ^/api/v2/catalog(/.*)?$
    legacy: null
    target: product
  - id: api.v2
    path: ^/api/v2(/.*)?$
    legacy: null
    target: null
"""


def parse(text: str, *, env=None, known_flags=KNOWN_FLAGS):
    return parse_routes(textwrap.dedent(text), source="routes.yaml", env=env or {}, known_flags=known_flags)


def problems_of(text: str, **kwargs) -> list[tuple[int, str]]:
    with pytest.raises(RoutesError) as caught:
        parse(text, **kwargs)
    return caught.value.problems


def test_a_valid_table_parses_into_routes_in_file_order_with_defaults_applied():
    table = parse(VALID)

    assert [r.id for r in table.routes] == ["catalog.read", "payments.charge", "v2.catalog", "api.v2"]
    catalog, charge, v2_catalog, v2 = table.routes
    assert table.default_upstream == Upstream("legacy", "http", "127.0.0.1", 8000)
    assert catalog.methods == {"GET", "HEAD"}
    assert catalog.legacy == table.default_upstream
    assert catalog.target == Upstream("product", "http", "product.internal", 8101)
    assert (catalog.timeout, catalog.bulkhead, catalog.fallback, catalog.line) == (5.0, 10, True, 8)
    assert (charge.mode, charge.fallback, charge.timeout, charge.bulkhead) == ("shadow", False, 20.0, 64)
    assert (v2_catalog.legacy, v2_catalog.flag, v2_catalog.fallback) == (None, None, False)
    assert (v2.legacy, v2.target) == (None, None)
    assert table.flags == {"route.catalog.read", "route.payments.charge"}


def test_upstream_urls_take_their_value_from_the_environment_when_it_is_set():
    table = parse(VALID, env={"MONOLITH_URL": "https://legacy.internal:9443"})

    assert table.default_upstream == Upstream("legacy", "https", "legacy.internal", 9443)


@pytest.mark.parametrize(
    ("value", "env", "expected"),
    [
        ("${A:-x}", {}, "x"),
        ("${A:-x}", {"A": ""}, "x"),
        ("${A:-x}", {"A": "y"}, "y"),
        ("${A}", {"A": "y"}, "y"),
        ("http://${HOST:-h}:${PORT:-1}", {"PORT": "2"}, "http://h:2"),
        ("no reference", {}, "no reference"),
    ],
)
def test_interpolation_expands_environment_references_with_defaults(value, env, expected):
    assert interpolate(value, env) == expected


def test_the_shipped_route_table_is_valid_against_the_bootstrap_flags():
    bootstrap = {f["name"] for f in json.loads(BOOTSTRAP_FILE.read_text())["features"]}

    table = load_routes(DEFAULT_ROUTES_FILE, env={}, known_flags=bootstrap)

    assert table.default_upstream.url == "http://127.0.0.1:8000"
    assert {u.port for u in table.upstreams.values()} == {8000, 8101, 8102, 8103, 8104, 8105}
    assert table.routes[-1].id == "api.v2"


# Against the shipped routes.yaml: (method, path, route id, upstream name; "gateway" = answered 404 by the
# gateway itself)
SHIPPED_V2 = [
    ("GET", "/api/v2/catalog/products", "v2.catalog", "product"),
    ("GET", "/api/v2/catalog/products/7", "v2.catalog", "product"),
    ("HEAD", "/api/v2/catalog/categories", "v2.catalog", "product"),
    ("GET", "/api/v2/catalog", "v2.catalog", "product"),
    ("POST", "/api/v2/catalog/products", "v2.catalog", "product"),  # its 405, as directly
    ("TRACE", "/api/v2/catalog/categories", "v2.catalog", "product"),
    ("GET", "/api/v2/catalogue", "api.v2", "gateway"),
    ("GET", "/api/v2/orders", "v2.orders", "orders"),
    ("POST", "/api/v2/orders", "v2.orders", "orders"),
    ("GET", "/api/v2/orders/TS-261207-ABCDEF", "v2.orders", "orders"),
    ("GET", "/api/v2/orderz", "api.v2", "gateway"),
    ("GET", "/api/v2/notifications", "v2.notifications", "notifications"),
    ("PUT", "/api/v2/notifications/preferences", "v2.notifications", "notifications"),
    ("POST", "/api/v2/notifications/receipts/sms", "v2.notifications", "notifications"),
    ("GET", "/api/v2/notifications/42", "api.v2", "gateway"),
    ("POST", "/api/v2/notifications/receipts", "api.v2", "gateway"),
    ("GET", "/api/v2", "api.v2", "gateway"),
]


@pytest.mark.parametrize(
    "path", ["/metrics", "/metrics/", "/internal/v1/import/products", "/internal/v1/verify/checksums"]
)
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_the_shipped_table_answers_the_upstreams_operational_endpoints_itself(method, path):
    table = load_routes(DEFAULT_ROUTES_FILE, env={})

    route = match_route(table.routes, method, path)
    decision = decide(table, route, flag_enabled=False, idempotent=True)

    assert (route.id, decision.upstream.name) == ("ops.internal", "gateway")


@pytest.mark.parametrize(("method", "path", "route_id", "upstream"), SHIPPED_V2)
def test_the_shipped_table_sends_each_served_v2_area_to_its_service_and_no_other_v2_path(
    method, path, route_id, upstream
):
    table = load_routes(DEFAULT_ROUTES_FILE, env={})
    ids = [r.id for r in table.routes]
    assert ids.index("v2.catalog") < ids.index("api.v2")

    route = match_route(table.routes, method, path)
    decision = decide(table, route, flag_enabled=False, idempotent=True)

    assert (route.id, decision.upstream.name) == (route_id, upstream)
    assert decision.fallback is None
    assert decision.flag is None


# The orders stage on the shipped table: (method, path, route id, upstream with the flag on, fallback)
SHIPPED_ORDERS = [
    ("POST", "/api/v1/orders/checkout", "orders.checkout", "orders", None),
    ("GET", "/api/v1/orders/cart", "orders.write", "orders", "legacy"),
    ("POST", "/api/v1/orders/cart/items", "orders.write", "orders", "legacy"),
    ("PUT", "/api/v1/orders/cart/items/7", "orders.write", "orders", "legacy"),
    ("POST", "/api/v1/orders/shipping/quote", "orders.write", "orders", "legacy"),
    ("POST", "/api/v1/orders/coupons/validate", "orders.write", "orders", "legacy"),
    ("POST", "/api/v1/orders/TS-261207-ABCDEF/cancel", "orders.write", "orders", "legacy"),
    ("GET", "/api/v1/orders", "orders.read", "orders", "legacy"),
    ("GET", "/api/v1/orders/TS-261207-ABCDEF", "orders.read", "orders", "legacy"),
]


@pytest.mark.parametrize(("method", "path", "route_id", "upstream", "fallback"), SHIPPED_ORDERS)
def test_the_shipped_table_moves_orders_and_checkout_with_the_orders_flags(
    method, path, route_id, upstream, fallback
):
    table = load_routes(DEFAULT_ROUTES_FILE, env={})
    ids = [r.id for r in table.routes]
    assert ids.index("orders.checkout") < ids.index("payments.charge")  # checkout moves with the orders stage

    route = match_route(table.routes, method, path)
    on = decide(table, route, flag_enabled=True, idempotent=method != "POST")
    off = decide(table, route, flag_enabled=False, idempotent=method != "POST")

    assert (route.id, route.flag, on.upstream.name, off.upstream.name) == (
        route_id,
        f"route.{route_id}",
        upstream,
        "legacy",
    )
    assert (on.fallback.name if on.fallback else None) == fallback
    assert on.legacy.name == off.legacy.name == "legacy"  # the service answers the monolith's contract


def _route(extra: str, *, route_id: str = "r1", path: str = "^/x$") -> str:
    """A table whose only route is `extra` (YAML lines) added to a valid route; the route starts at line 5."""
    body = textwrap.indent(textwrap.dedent(extra).strip("\n"), "    ") if extra.strip() else ""
    return (
        "upstreams:\n  legacy: http://127.0.0.1:8000\n  product: http://127.0.0.1:8101\nroutes:\n"
        f"  - id: {route_id}\n    path: '{path}'\n" + (body + "\n" if body else "")
    )


# (name, text, line, words the message contains)
BAD_TABLES = [
    (
        "unknown upstream",
        _route("target: prodcut\nflag: route.catalog.read"),
        7,
        "unknown upstream 'prodcut'",
    ),
    ("unknown legacy upstream", _route("legacy: old\ntarget: product\nflag: route.catalog.read"), 7, "'old'"),
    (
        "bad regex",
        _route("target: product\nflag: route.catalog.read", path="^/x(["),
        6,
        "not a valid regular",
    ),
    ("unanchored path", _route("target: product\nflag: route.catalog.read", path="/x"), 6, "anchored"),
    ("missing flag", _route("target: product"), 5, "'flag' is required"),
    ("unknown flag", _route("target: product\nflag: route.nope"), 8, "does not exist in the flags store"),
    ("missing target", _route("flag: route.catalog.read"), 5, "'target' is required"),
    (
        "unknown route key",
        _route("target: product\nflag: route.catalog.read\ntimout: 5"),
        9,
        "unknown key 'timout'",
    ),
    (
        "timeout as text",
        _route("target: product\nflag: route.catalog.read\ntimeout: fast"),
        9,
        "timeout must be",
    ),
    ("timeout zero", _route("target: product\nflag: route.catalog.read\ntimeout: 0"), 9, "greater than 0"),
    ("timeout too long", _route("target: product\nflag: route.catalog.read\ntimeout: 601"), 9, "at most 600"),
    (
        "bulkhead float",
        _route("target: product\nflag: route.catalog.read\nbulkhead: 2.5"),
        9,
        "bulkhead must be int",
    ),
    ("fallback as text", _route("target: product\nflag: route.catalog.read\nfallback: maybe"), 9, "fallback"),
    ("methods not a list", _route("target: product\nflag: route.catalog.read\nmethods: GET"), 9, "methods"),
    (
        "unknown method",
        _route("target: product\nflag: route.catalog.read\nmethods: [GET, FETCH]"),
        9,
        "FETCH",
    ),
    ("bad mode", _route("target: product\nflag: route.catalog.read\nmode: mirror"), 9, "mode must be"),
    (
        "shadow without target",
        _route("target: null\nflag: route.catalog.read\nmode: shadow"),
        9,
        "shadow route",
    ),
    ("fallback without legacy", _route("legacy: null\ntarget: product\nfallback: true"), 9, "fallback needs"),
    (
        "flag without target",
        _route("legacy: null\ntarget: null\nflag: route.catalog.read"),
        9,
        "nothing for its flag",
    ),
    (
        "id not a name",
        _route("target: product\nflag: route.catalog.read", route_id="Catalog Read"),
        5,
        "ids are",
    ),
    ("id a number", _route("target: product\nflag: route.catalog.read", route_id="12"), 5, "id must be str"),
    (
        "duplicate key",
        _route("target: product\nflag: route.catalog.read\ntarget: legacy"),
        9,
        "duplicate key",
    ),
    ("route not a mapping", "upstreams:\n  legacy: http://h:1\nroutes:\n  - just a string\n", 4, "mapping"),
    ("routes not a list", "upstreams:\n  legacy: http://h:1\nroutes:\n  a: 1\n", 4, "routes must be a list"),
    ("no routes section", "upstreams:\n  legacy: http://h:1\n", 1, "'routes:'"),
    (
        "unknown top key",
        "upstreams:\n  legacy: http://h:1\nroutes: []\nroute: []\n",
        4,
        "unknown key 'route'",
    ),
    ("bad upstream url", "upstreams:\n  legacy: ftp://h:1\nroutes: []\n", 2, "http://"),
    ("upstream url with a path", "upstreams:\n  legacy: http://h:1/api\nroutes: []\n", 2, "nothing else"),
    ("upstream bad port", "upstreams:\n  legacy: http://h:99999\nroutes: []\n", 2, "not a URL"),
    ("unset variable", "upstreams:\n  legacy: ${NOPE_URL}\nroutes: []\n", 2, "NOPE_URL is not set"),
    (
        "reserved upstream name",
        "upstreams:\n  legacy: http://h:1\n  gateway: http://h:2\nroutes: []\n",
        3,
        "reserved",
    ),
    ("no legacy upstream", "upstreams:\n  old: http://h:1\nroutes: []\n", 2, "no upstream named 'legacy'"),
    (
        "defaults unknown key",
        "upstreams:\n  legacy: http://h:1\ndefaults:\n  retries: 3\nroutes: []\n",
        4,
        "retries",
    ),
    (
        "defaults bad legacy",
        "upstreams:\n  legacy: http://h:1\ndefaults:\n  legacy: x\nroutes: []\n",
        4,
        "'x'",
    ),
    ("not yaml", "upstreams: [\n", 2, "not valid YAML"),
    ("empty file", "", 1, "empty"),
    ("a list at the top", "- a\n- b\n", 1, "must be a mapping"),
]


@pytest.mark.parametrize(
    ("text", "line", "words"), [c[1:] for c in BAD_TABLES], ids=[c[0] for c in BAD_TABLES]
)
def test_a_bad_route_table_is_refused_with_a_message_naming_the_line(text, line, words):
    problems = problems_of(text)

    assert any(found_line == line and words in message for found_line, message in problems), problems


def test_a_duplicate_route_id_names_the_line_of_the_second_and_of_the_first():
    text = _route("target: product\nflag: route.catalog.read") + (
        "  - id: r1\n    path: ^/y$\n    target: product\n    flag: route.catalog.read\n"
    )

    problems = problems_of(text)

    assert problems == [(9, "route 'r1': duplicate id (first used at line 5)")]


def test_every_problem_of_the_file_is_reported_at_once_and_the_message_names_file_and_lines():
    text = _route("target: prodcut\nflag: route.nope\ntimeout: -1")

    with pytest.raises(RoutesError) as caught:
        parse(text)

    message = str(caught.value)
    assert "routes.yaml:7: route 'r1': target: unknown upstream 'prodcut'" in message
    assert "routes.yaml:8: route 'r1': flag 'route.nope' does not exist" in message
    assert "routes.yaml:9: route 'r1': timeout must be greater than 0" in message


def test_flags_are_not_checked_when_no_flags_store_is_given():
    table = parse(_route("target: product\nflag: route.anything"), known_flags=None)

    assert table.routes[0].flag == "route.anything"


def test_an_unreadable_file_is_a_routes_error_naming_the_file(tmp_path):
    missing = tmp_path / "nope.yaml"

    with pytest.raises(RoutesError, match=r"nope\.yaml:0: cannot read"):
        load_routes(missing, env={})


# --- paths -----------------------------------------------------------------------------------------------

SAFE_PATHS = [
    ("/", "/"),
    ("/api/v1/catalog/products?q=..%2f..", "/api/v1/catalog/products"),
    ("/api/v1/catalog/products/42", "/api/v1/catalog/products/42"),
    ("/api/v1/%63atalog/products", "/api/v1/catalog/products"),
    ("/files/.well-known/x", "/files/.well-known/x"),
    ("/a..b/c...", "/a..b/c..."),
    ("/caf%C3%A9", "/café"),
]

UNSAFE_PATHS = [
    "/api/../admin",
    "/api/..",
    "/..",
    "/api/./v1",
    "/api/%2e%2e/admin",
    "/api/%2E%2e/admin",
    "/api/.%2e/admin",
    "/api/%2e/admin",
    "//api/v1",
    "/api//v1",
    "/api/v1%00.json",
    "/api/v1/%0d%0aX: y",
    "/api%2f..%2fadmin",
    "/api%5c..%5cadmin",
    "/api\\..\\admin",
    "/api/\x00",
    "/api/v1 x",
    "/caf\u00e9",
    "/%ff",
    "*",
    "http://evil.example/api",
]


@pytest.mark.parametrize(("target", "path"), SAFE_PATHS)
def test_route_path_strips_the_query_and_decodes_escapes(target, path):
    assert route_path(target) == path


@pytest.mark.parametrize("target", UNSAFE_PATHS)
def test_route_path_refuses_traversal_empty_segments_nul_and_encoded_separators(target):
    with pytest.raises(UnsafePath):
        route_path(target)


# --- matching and deciding -----------------------------------------------------------------------------

MATCHES = [
    ("GET", "/api/v1/catalog/products", "catalog.read"),
    ("HEAD", "/api/v1/catalog/products/7", "catalog.read"),
    ("POST", "/api/v1/catalog/products", None),
    ("GET", "/api/v1/catalog/products/7/stock-movements", None),
    ("POST", "/api/v1/orders/checkout", "payments.charge"),
    ("GET", "/api/v1/orders/checkout", None),
    ("DELETE", "/api/v2/catalog/items/1", "v2.catalog"),
    ("GET", "/api/v2/orders", "api.v2"),
    ("GET", "/api/v2", "api.v2"),
    ("GET", "/api/v20", None),
    ("GET", "/api/v1/accounts/me", None),
]


@pytest.mark.parametrize(("method", "path", "route_id"), MATCHES)
def test_the_first_route_matching_method_and_path_wins(method, path, route_id):
    route = match_route(parse(VALID).routes, method, path)

    assert (route.id if route else None) == route_id


@pytest.mark.parametrize(
    ("method", "has_key", "expected"),
    [
        ("GET", False, True),
        ("HEAD", False, True),
        ("OPTIONS", False, True),
        ("PUT", False, True),
        ("DELETE", False, True),
        ("POST", False, False),
        ("PATCH", False, False),
        ("POST", True, True),
        ("PATCH", True, True),
    ],
)
def test_idempotent_means_an_rfc_idempotent_method_or_an_idempotency_key(method, has_key, expected):
    assert is_idempotent(method, has_key) is expected


def _decide(route_id: str | None, flag_enabled: bool):
    table = parse(VALID)
    route = next((r for r in table.routes if r.id == route_id), None)
    return table, decide(table, route, flag_enabled=flag_enabled, idempotent=True)


# route id, flag on, mode, upstream, fallback, shadow
DECISIONS = [
    (None, False, "default", "legacy", None, None),
    ("catalog.read", False, "route", "legacy", None, None),
    ("catalog.read", True, "route", "product", "legacy", None),
    ("payments.charge", False, "shadow", "legacy", None, None),
    ("payments.charge", True, "shadow", "legacy", None, "product"),
    ("v2.catalog", False, "route", "product", None, None),
    ("api.v2", False, "route", "gateway", None, None),
    ("api.v2", True, "route", "gateway", None, None),
]


@pytest.mark.parametrize(("route_id", "flag_on", "mode", "upstream", "fallback", "shadow"), DECISIONS)
def test_the_decision_follows_the_route_mode_and_the_flag(
    route_id, flag_on, mode, upstream, fallback, shadow
):
    _table, decision = _decide(route_id, flag_on)

    assert decision.route_id == route_id
    assert decision.mode == mode
    assert decision.upstream.name == upstream
    assert (decision.fallback.name if decision.fallback else None) == fallback
    assert (decision.shadow.name if decision.shadow else None) == shadow
    assert decision.flag_enabled is (flag_on and decision.flag is not None)


def test_an_unmatched_request_gets_the_default_timeout_and_bulkhead():
    _table, decision = _decide(None, False)

    assert (decision.timeout, decision.bulkhead, decision.idempotent) == (20.0, 64, True)


def test_a_route_without_any_upstream_is_answered_by_the_gateway_itself():
    _table, decision = _decide("api.v2", False)

    assert decision.upstream is GATEWAY
