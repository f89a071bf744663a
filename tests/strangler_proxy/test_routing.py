"""The Router addon in mitmproxy's test context: decisions from the route table, the flags file and the
request's context; rewriting; gateway answers; refusal of a bad route table at configure time."""

import json
import time
from types import SimpleNamespace

import pytest
from mitmproxy import exceptions
from mitmproxy.test import taddons, tflow, tutils

from flags import FlagContext
from flags.config import BOOTSTRAP_FILE
from flags.flagsfile import dump_features
from kernel.files import write_atomically
from strangler_proxy.routes import Decision, Identity
from strangler_proxy.routing import (
    DECISION_KEY,
    DEFAULT_ROUTES_FILE,
    IDENTITY_KEY,
    SESSION_KEY,
    FlagMemo,
    Router,
    flag_context,
)
from tests.flags.builders import feature, rollout_strategy

ROUTES = """\
upstreams:
  legacy: http://legacy.internal:8000
  product: https://product.internal:8443
routes:
  - id: catalog.read
    methods: [GET, HEAD]
    path: ^/api/v1/catalog/products(/[0-9]+)?$
    target: product
    flag: route.catalog.read
    timeout: 5
    bulkhead: 7
  - id: orders.write
    path: ^/api/v1/orders/cart
    target: product
    flag: route.orders.write
    fallback: false
  - id: api.v2
    path: ^/api/v2(/.*)?$
    legacy: null
    target: null
"""


@pytest.fixture
def flags_file(tmp_path):
    path = tmp_path / "flags.json"
    set_flags(path, catalog=False, orders=False)
    return path


def set_flags(path, *, catalog, orders=False, catalog_strategies=None):
    write_atomically(
        path,
        dump_features(
            {
                "version": 2,
                "features": [
                    feature("route.catalog.read", enabled=catalog, strategies=catalog_strategies),
                    feature("route.orders.write", enabled=orders),
                ],
            }
        ),
    )


@pytest.fixture
def routes_file(tmp_path):
    path = tmp_path / "routes.yaml"
    path.write_text(ROUTES)
    return path


@pytest.fixture(autouse=True)
def flags_env(tmp_path, monkeypatch):
    """No Unleash server and no flags file outside tmp_path, whatever the environment says."""
    monkeypatch.delenv("UNLEASH_URL", raising=False)
    monkeypatch.setenv("FLAGS_FILE", str(tmp_path / "env-flags.json"))


@pytest.fixture
def make_router(routes_file, flags_file):
    """A configured Router over the test's route table and flags file (write the flags first)."""
    contexts = []

    def make() -> Router:
        addon = Router()
        tctx = taddons.context(addon)
        tctx.configure(addon, strangler_routes=str(routes_file), strangler_flags_file=str(flags_file))
        contexts.append((tctx, addon))
        return addon

    yield make
    for tctx, addon in contexts:
        addon.done()
        tctx.__exit__(None, None, None)


@pytest.fixture
def router(make_router):
    return make_router()


def wait_until(predicate, timeout: float = 5.0) -> None:
    """The flags facade re-reads its file on its next poll (every 0.25 s)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "the flags change was not seen in time"
        time.sleep(0.02)


def request_flow(method="GET", path="/api/v1/catalog/products/3", *, user_id=None, headers=()):
    flow = tflow.tflow(
        req=tutils.treq(
            method=method.encode(),
            path=path.encode(),
            host="legacy.internal",
            port=8000,
            headers=((b"host", b"legacy.internal:8000"), *headers),
        )
    )
    if user_id is not None:
        flow.metadata[IDENTITY_KEY] = Identity(user_id, f"user-{user_id}", ("customer",), "legacy_token")
    return flow


def route(router, flow):
    router.requestheaders(flow)
    if flow.response is None:
        flow.response = tutils.tresp()
    router.responseheaders(flow)
    return flow


def test_with_the_flag_on_a_matching_request_is_rewritten_to_the_target(router, flags_file):
    set_flags(flags_file, catalog=True)
    wait_until(lambda: router.flags.is_enabled("route.catalog.read"))

    flow = route(router, request_flow())

    request = flow.request
    assert (request.scheme, request.host, request.port) == ("https", "product.internal", 8443)
    assert request.host_header == "product.internal:8443"
    decision: Decision = flow.metadata[DECISION_KEY]
    assert (decision.route_id, decision.mode, decision.flag, decision.flag_enabled) == (
        "catalog.read",
        "route",
        "route.catalog.read",
        True,
    )
    assert decision.upstream.name == "product"
    assert decision.fallback.name == "legacy"
    assert (decision.timeout, decision.bulkhead, decision.idempotent) == (5.0, 7, True)
    assert flow.response.headers["X-Strangler-Route"] == "catalog.read"
    assert flow.response.headers["X-Strangler-Upstream"] == "product"


def test_with_the_flag_off_a_matching_request_stays_on_legacy(router):
    flow = route(router, request_flow())

    assert (flow.request.host, flow.request.port, flow.request.host_header) == (
        "legacy.internal",
        8000,
        "legacy.internal:8000",
    )
    assert flow.metadata[DECISION_KEY].flag_enabled is False
    assert flow.response.headers["X-Strangler-Upstream"] == "legacy"


def test_an_unmatched_request_goes_to_legacy_with_the_default_decision(router):
    flow = route(router, request_flow("POST", "/api/v1/accounts/register"))

    decision = flow.metadata[DECISION_KEY]
    assert (decision.route_id, decision.mode, decision.upstream.name) == (None, "default", "legacy")
    assert decision.idempotent is False
    assert flow.response.headers["X-Strangler-Route"] == "default"


def test_a_query_string_does_not_change_the_route(make_router, flags_file):
    set_flags(flags_file, catalog=True)
    router = make_router()

    flow = route(router, request_flow(path="/api/v1/catalog/products?q=../../etc&page=2"))

    assert flow.metadata[DECISION_KEY].route_id == "catalog.read"
    assert flow.request.path == "/api/v1/catalog/products?q=../../etc&page=2"


def test_a_post_with_an_idempotency_key_counts_as_idempotent(router):
    flow = route(
        router, request_flow("POST", "/api/v1/orders/cart/items", headers=((b"Idempotency-Key", b"k1"),))
    )

    decision = flow.metadata[DECISION_KEY]
    assert (decision.route_id, decision.idempotent, decision.fallback) == ("orders.write", True, None)


@pytest.mark.parametrize("path", ["/api/v2", "/api/v2/catalog/products/1"])
def test_an_api_v2_area_without_a_service_is_a_404_from_the_gateway(router, path):
    flow = request_flow(path=path)

    router.requestheaders(flow)

    assert flow.response.status_code == 404
    assert flow.response.json()["code"] == "api_version_not_available"
    assert flow.request.host == "legacy.internal"  # pointed nowhere new: nothing is forwarded
    router.responseheaders(flow)
    assert flow.response.headers["X-Strangler-Upstream"] == "gateway"


@pytest.mark.parametrize(
    "path", ["/api/v1/../admin", "/api/%2e%2e/admin", "//api/v1", "/api/v1%00", "/a%2fb"]
)
def test_a_path_that_tries_to_leave_its_place_is_a_400_and_is_not_routed(router, path):
    flow = request_flow(path=path)
    flow.request.stream = True  # as StreamBodies marks a large body; a gateway answer must undo it

    router.requestheaders(flow)

    assert flow.response.status_code == 400
    body = flow.response.json()
    assert body["code"] == "bad_request_path"
    assert set(body) == {"code", "message", "extra"}
    assert DECISION_KEY not in flow.metadata
    assert flow.request.stream is False


def test_the_health_path_is_answered_by_the_gateway(router):
    flow = request_flow(path="/_strangler/health")

    router.requestheaders(flow)

    assert flow.response.status_code == 200
    assert flow.response.json() == {"status": "ok", "routes": 3}


def test_a_flow_another_addon_answered_is_left_alone(router):
    flow = request_flow()
    flow.response = tutils.tresp(status_code=429)

    router.requestheaders(flow)

    assert DECISION_KEY not in flow.metadata
    assert flow.request.host == "legacy.internal"


def test_after_a_fallback_the_upstream_header_names_the_upstream_that_answered(make_router, flags_file):
    set_flags(flags_file, catalog=True)
    router = make_router()
    flow = request_flow()
    router.requestheaders(flow)
    flow.response = tutils.tresp()
    flow.metadata["strangler.forward"] = SimpleNamespace(upstream_name="legacy")

    router.responseheaders(flow)

    assert flow.response.headers["X-Strangler-Upstream"] == "legacy"


def test_a_fifty_percent_rollout_splits_users_about_evenly_and_each_user_always_lands_on_one_side(
    make_router, flags_file
):
    set_flags(
        flags_file, catalog=True, catalog_strategies=[rollout_strategy(50, group_id="route.catalog.read")]
    )
    router = make_router()
    users = [str(n) for n in range(1, 401)]

    def side(user_id):
        flow = request_flow(user_id=user_id)
        router.requestheaders(flow)
        return flow.metadata[DECISION_KEY].upstream.name

    first = {user: side(user) for user in users}
    again = {user: side(user) for user in users}

    assert first == again
    moved = sum(1 for upstream in first.values() if upstream == "product")
    assert 140 <= moved <= 260


def test_the_flag_context_carries_the_user_the_session_hash_and_the_client_address():
    flow = request_flow(user_id="42")
    flow.metadata[SESSION_KEY] = "ab" * 32

    context = flag_context(flow)

    assert (context.user_id, context.session_id) == ("42", "ab" * 32)
    assert context.remote_address == flow.client_conn.peername[0]


def test_an_allow_listed_user_is_routed_to_the_target_and_others_are_not(make_router, flags_file):
    allow = {"name": "userWithId", "parameters": {"userIds": "7,9"}, "constraints": []}
    set_flags(flags_file, catalog=True, catalog_strategies=[allow])
    router = make_router()

    sides = {}
    for user_id in ("7", "8", "9", None):
        flow = request_flow(user_id=user_id)
        router.requestheaders(flow)
        sides[user_id] = flow.metadata[DECISION_KEY].upstream.name

    assert sides == {"7": "product", "8": "legacy", "9": "product", None: "legacy"}


def test_a_bad_route_table_stops_configuration_with_the_file_and_line(tmp_path, flags_file):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        ROUTES.replace(
            "target: product\n    flag: route.orders.write", "target: prodcut\n    flag: route.orders.write"
        )
    )
    addon = Router()
    with taddons.context(addon) as tctx:
        with pytest.raises(
            exceptions.OptionsError, match=r"bad.yaml:14: route 'orders.write': target: unknown"
        ):
            tctx.configure(addon, strangler_routes=str(bad), strangler_flags_file=str(flags_file))
        addon.done()


def test_a_route_flag_missing_from_the_flags_store_stops_configuration(tmp_path, routes_file):
    only_catalog = tmp_path / "only-catalog.json"
    write_atomically(only_catalog, json.dumps({"version": 2, "features": [feature("route.catalog.read")]}))
    addon = Router()
    with taddons.context(addon) as tctx:
        with pytest.raises(
            exceptions.OptionsError, match=r"routes.yaml:15: .*'route.orders.write' does not exist"
        ):
            tctx.configure(addon, strangler_routes=str(routes_file), strangler_flags_file=str(only_catalog))
        addon.done()


def test_an_absolute_form_request_is_pointed_at_the_upstream_too(make_router, flags_file):
    set_flags(flags_file, catalog=True)
    router = make_router()
    flow = request_flow()
    flow.request.authority = "evil.example"

    router.requestheaders(flow)

    assert flow.request.authority == "product.internal:8443"
    assert flow.request.host_header == "product.internal:8443"


def test_a_flag_answer_is_reused_for_the_same_user_within_the_memo_ttl_and_asked_again_after():
    class CountingFlags:
        calls = 0

        def is_enabled(self, name, context):
            self.calls += 1
            return True

    now = [100.0]
    flags = CountingFlags()
    memo = FlagMemo(flags, ttl=0.25, clock=lambda: now[0])
    alice, bob = FlagContext(user_id="1"), FlagContext(user_id="2")

    assert memo.is_enabled("route.x", alice)
    assert memo.is_enabled("route.x", alice)
    assert memo.is_enabled("route.x", bob)
    assert flags.calls == 2
    now[0] += 0.3
    assert memo.is_enabled("route.x", alice)
    assert flags.calls == 3
    assert FlagMemo(flags, ttl=0).is_enabled("route.x", alice)
    assert flags.calls == 4


@pytest.mark.parametrize(
    ("method", "path", "answered_404"),
    [
        ("GET", "/api/v2/catalog/products?limit=5", False),
        ("HEAD", "/api/v2/catalog/categories", False),
        ("GET", "/api/v2/payments/1", True),
        ("POST", "/api/v2/catalog/products", False),  # the service's own 405, as when asked directly
        ("POST", "/api/v2/payments", True),
    ],
)
def test_with_the_shipped_table_v2_catalog_reads_go_to_the_product_service_and_other_v2_paths_are_404(
    tmp_path, monkeypatch, method, path, answered_404
):
    monkeypatch.delenv("PRODUCT_SERVICE_URL", raising=False)
    bootstrap = json.loads(BOOTSTRAP_FILE.read_text())["features"]
    flags = tmp_path / "shipped-flags.json"
    write_atomically(
        flags,
        dump_features({"version": 2, "features": [feature(f["name"], enabled=False) for f in bootstrap]}),
    )
    addon = Router()
    with taddons.context(addon) as tctx:
        tctx.configure(addon, strangler_routes=str(DEFAULT_ROUTES_FILE), strangler_flags_file=str(flags))
        try:
            flow = request_flow(method=method, path=path)
            addon.requestheaders(flow)
        finally:
            addon.done()

    if answered_404:
        assert flow.response.status_code == 404
        assert flow.response.json()["code"] == "api_version_not_available"
        assert flow.metadata[DECISION_KEY].route_id == "api.v2"
    else:
        assert flow.response is None
        assert flow.metadata[DECISION_KEY].route_id == "v2.catalog"
        assert (flow.request.host, flow.request.port) == ("127.0.0.1", 8101)  # PRODUCT_SERVICE_URL default
        assert flow.request.path == path
