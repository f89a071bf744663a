"""Pagination links through the gateway name the gateway, whichever side answers.

The real monolith (gunicorn, PostgreSQL) and a REAL Product service (gunicorn, its own database, backfilled
with `manage.py sync products backfill`), behind the real gateway. With `route.catalog.read` at 0, 50 and
100 %, a few users each follow `next` from the first page of /api/v1/catalog/products to the last, and
`previous` back: every link starts with the gateway's own address (X-Forwarded-Host/-Proto, believed from
the gateway only: chassis/forwarded.py), every page came through the gateway from one side per user
(sticky), and the pages add up to the whole catalogue, each product once. The same for the Product
service's /api/v2 cursor links (no flag: the service alone answers them).
"""

from __future__ import annotations

import json

import pytest
import requests

from legacy_monolith.demo.processes import manage
from legacy_monolith.demo.stack import running_stack
from strangler_proxy.launch import DEFAULT_ROUTES
from tests.background import wait_until
from tests.e2e.product_service import running_product_service
from tests.strangler_proxy.conftest import start_gateway, write_flags_file

pytestmark = pytest.mark.e2e

PRODUCTS = 23
PAGE_SIZE = 4
USERS = 6
FLAG = "route.catalog.read"

MAKE_TOKENS = """
import json, secrets
from datetime import timedelta
from django.utils import timezone
from legacy_monolith.accounts.authentication import token_hash
from legacy_monolith.accounts.models import ApiToken, Role, User
tokens = {}
for user in User.objects.filter(role=Role.CUSTOMER).order_by("id")[:%d]:
    key = secrets.token_urlsafe(24)
    ApiToken.objects.create(user=user, name="links-e2e", key_prefix=key[:8], key_hash=token_hash(key),
                            expires_at=timezone.now() + timedelta(hours=2))
    tokens[str(user.id)] = key
print("TOKENS " + json.dumps(tokens))
"""


@pytest.fixture(scope="module")
def stack(e2e_database_url, tmp_path_factory):
    seed = ("--users", str(USERS), "--products", str(PRODUCTS), "--orders", "0", "--seed", "5")
    with running_stack(
        database_url=e2e_database_url, var_dir=tmp_path_factory.mktemp("links-var"), seed_args=seed
    ) as running:
        yield running


@pytest.fixture(scope="module")
def service(stack, tmp_path_factory):
    with running_product_service(var_dir=tmp_path_factory.mktemp("links-service")) as running:
        env = {**stack.env, "PRODUCT_SERVICE_URL": running.url, "INTERNAL_API_TOKEN": running.token}
        manage("sync", "products", "backfill", "--no-progress", "--json", env=env)
        yield running


@pytest.fixture(scope="module")
def flags_env(tmp_path_factory) -> dict[str, str]:
    folder = tmp_path_factory.mktemp("links-flags")
    flags_file = write_flags_file(folder / "flags.json")  # every route off
    return {"FLAGS_FILE": str(flags_file), "FLAGS_AUDIT_LOG": str(folder / "flags-audit.log")}


@pytest.fixture(scope="module")
def gateway(stack, service, flags_env, tmp_path_factory):
    running = start_gateway(
        log_path=tmp_path_factory.mktemp("links-gateway") / "gateway.log",
        routes_yaml=DEFAULT_ROUTES,
        legacy_url=stack.monolith_url,
        env={**flags_env, "MONOLITH_URL": stack.monolith_url, "PRODUCT_SERVICE_URL": service.url},
    )
    yield running
    running.stop()


@pytest.fixture(scope="module")
def tokens(stack) -> dict[str, str]:
    output = manage("shell", "-c", MAKE_TOKENS % USERS, env=stack.env).stdout
    line = next(line for line in output.splitlines() if line.startswith("TOKENS "))
    return json.loads(line.removeprefix("TOKENS "))


def follow(url: str, token: str, link: str) -> tuple[list[dict], set[str], list[str]]:
    """GET `url`, then every `link` (next or previous) until there is none: (bodies, upstreams, links)."""
    session = requests.Session()
    session.headers["Authorization"] = f"Token {token}"
    bodies, upstreams, links = [], set(), []
    while url is not None:
        answer = session.get(url, timeout=30)
        assert answer.status_code == 200, (url, answer.status_code, answer.text[:300])
        upstreams.add(answer.headers.get("X-Strangler-Upstream", "?"))
        body = answer.json()
        bodies.append(body)
        url = body[link]
        links.append(url)
        assert len(bodies) <= PRODUCTS, "the links never end"
    return bodies, upstreams, links[:-1]


@pytest.mark.parametrize("percent", [0, 50, 100])
def test_next_and_previous_links_name_the_gateway_at_every_rollout_percentage(
    percent, stack, service, gateway, flags_env, tokens
):
    manage("flags", "rollout", FLAG, str(percent), "--actor", "links-e2e", env={**stack.env, **flags_env})
    first = f"{gateway.url}/api/v1/catalog/products?page_size={PAGE_SIZE}"
    expected = {0: {"legacy"}, 50: {"legacy", "product"}, 100: {"product"}}[percent]
    sides: dict[str, set[str]] = {}

    def settled() -> bool:
        sides.clear()
        for user, token in tokens.items():
            sides[user] = follow(first, token, "next")[1]
        return set().union(*sides.values()) == expected

    wait_until(settled, f"the gateway to read {FLAG} at {percent} %")
    for user, token in tokens.items():
        pages, upstreams, links = follow(first, token, "next")
        assert len(upstreams) == 1, f"user {user}'s pages came from {upstreams}"
        assert len(links) == len(pages) - 1 > 0
        assert all(link.startswith(f"{gateway.url}/api/v1/catalog/products?") for link in links)
        ids = [product["id"] for page in pages for product in page["results"]]
        assert len(ids) == len(set(ids)) == pages[0]["count"] >= PRODUCTS

        back, _, previous = follow(links[-1], token, "previous")
        assert len(previous) == len(back) - 1 == len(links)
        assert all(link.startswith(f"{gateway.url}/api/v1/catalog/products") for link in previous)
        assert [page["results"] for page in reversed(back)] == [page["results"] for page in pages]


def test_the_product_service_v2_cursor_links_name_the_gateway(gateway, service, tokens):
    token = next(iter(tokens.values()))
    first = f"{gateway.url}/api/v2/catalog/products?limit={PAGE_SIZE}"
    pages, upstreams, links = follow(first, token, "next")
    assert upstreams == {"product"}
    assert len(links) == len(pages) - 1 > 0
    assert all(link.startswith(f"{gateway.url}/api/v2/catalog/products?") for link in links)
    ids = [product["id"] for page in pages for product in page["results"]]
    assert len(ids) == len(set(ids)) >= PRODUCTS
