"""The gateway over a REAL Unleash 8 server (tests/flags' fixture): a route's flag toggled through
Unleash's Admin API changes where the gateway sends requests, within about a second (the client polls
every 1 s). The time each change took to show is printed and recorded."""

import time
import uuid
from urllib.parse import quote

import pytest
import requests

from flags.store import open_store
from tests.flags.builders import feature
from tests.flags.unleash_fixtures import unleash_server  # noqa: F401 - a fixture
from tests.strangler_proxy.conftest import StandinUpstream, start_gateway, write_routes

pytestmark = pytest.mark.e2e

VISIBLE_BOUND = 5.0  # seconds asserted; expected about 1 s (one poll) plus the server's own publication


@pytest.fixture
def upstreams():
    legacy, target = StandinUpstream("legacy").start(), StandinUpstream("product").start()
    yield legacy, target
    legacy.stop()
    target.stop()


@pytest.fixture
def server_flag(unleash_server, tmp_path) -> str:  # noqa: F811 - the imported fixture
    """A route flag that exists on the server, off, rolled out to 100% when on."""
    name = f"route.gw-{uuid.uuid4().hex[:10]}"
    open_store(unleash_server.config(tmp_path)).import_features(
        {"version": 2, "features": [feature(name, enabled=False)]}
    )
    return name


def admin_toggle(server, name: str, on: bool) -> float:
    """Switch the flag in the `development` environment through Unleash's Admin API; when it answered."""
    api = server.url.rstrip("/")
    api = api if api.endswith("/api") else f"{api}/api"
    url = (
        f"{api}/admin/projects/default/features/{quote(name, safe='')}"
        f"/environments/{server.environment}/{'on' if on else 'off'}"
    )
    answer = requests.post(url, headers={"Authorization": server.admin_token}, timeout=10)
    assert answer.status_code < 300, answer.text
    return time.monotonic()


def upstream_of(gateway) -> str:
    answer = requests.get(f"{gateway.url}/api/v1/catalog/products/1", timeout=10)
    assert answer.status_code == 200
    return answer.headers["X-Strangler-Upstream"]


def seconds_until_upstream(gateway, expected: str, since: float, timeout: float = 15.0) -> float:
    while upstream_of(gateway) != expected:
        assert time.monotonic() - since < timeout, f"the gateway did not route to {expected} in {timeout} s"
        time.sleep(0.05)
    return time.monotonic() - since


def test_toggling_a_route_flag_through_the_unleash_admin_api_moves_the_gateway_traffic(
    unleash_server,  # noqa: F811 - the imported fixture
    server_flag,
    upstreams,
    tmp_path,
    record_property,
):
    legacy, target = upstreams
    routes = write_routes(
        tmp_path / "routes.yaml",
        f"upstreams:\n  legacy: {legacy.url}\n  product: {target.url}\nroutes:\n"
        f"  - id: catalog.read\n    methods: [GET]\n    path: ^/api/v1/catalog/\n"
        f"    target: product\n    flag: {server_flag}\n",
    )
    gateway = start_gateway(
        log_path=tmp_path / "gateway.log", routes_yaml=routes, legacy_url=legacy.url, env=unleash_server.env()
    )
    try:
        assert upstream_of(gateway) == "legacy"

        on_after = seconds_until_upstream(gateway, "product", admin_toggle(unleash_server, server_flag, True))
        assert {upstream_of(gateway) for _ in range(20)} == {"product"}
        assert target.requests_to("/api/v1/catalog/products/1")

        off_after = seconds_until_upstream(
            gateway, "legacy", admin_toggle(unleash_server, server_flag, False)
        )
        assert {upstream_of(gateway) for _ in range(20)} == {"legacy"}
    finally:
        gateway.stop()

    record_property("unleash_on_visible_seconds", round(on_after, 3))
    record_property("unleash_off_visible_seconds", round(off_after, 3))
    print(
        f"\nUnleash Admin API toggle seen by the gateway: on after {on_after:.2f} s, "
        f"off after {off_after:.2f} s"
    )
    assert on_after < VISIBLE_BOUND
    assert off_after < VISIBLE_BOUND


def test_the_gateway_refuses_to_start_when_a_route_flag_is_missing_on_the_unleash_server(
    unleash_server,  # noqa: F811 - the imported fixture
    upstreams,
    tmp_path,
):
    from tests.strangler_proxy.conftest import GatewayStartError

    legacy, target = upstreams
    missing = f"route.gw-missing-{uuid.uuid4().hex[:8]}"
    routes = write_routes(
        tmp_path / "routes.yaml",
        f"upstreams:\n  legacy: {legacy.url}\n  product: {target.url}\nroutes:\n"
        f"  - id: catalog.read\n    path: ^/api/v1/catalog/\n    target: product\n    flag: {missing}\n",
    )

    with pytest.raises(GatewayStartError) as caught:
        start_gateway(
            log_path=tmp_path / "gateway.log",
            routes_yaml=routes,
            legacy_url=legacy.url,
            env=unleash_server.env(),
        )

    assert f"routes.yaml:8: route 'catalog.read': flag '{missing}' does not exist" in caught.value.log
