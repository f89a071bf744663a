"""The Product service answers /api/v1/catalog exactly as the monolith does.

The monolith (gunicorn, its own throwaway database) is seeded with `seed_techstore` plus a few edge rows
(equal prices, names differing only in case or accents, an inactive product, typed attributes); the same
catalogue is loaded into a REAL Product service (gunicorn, its own throwaway database, migrated, Redis cache
on) through its import endpoint with the ACL's translators. Then the same requests go to both: every filter,
ordering, pagination edge, bad input, unknown id and HEAD, with one Host header so links are comparable.
Status, Content-Type and JSON must be identical, from the service's cache as well as from its store.
"""

from __future__ import annotations

import dataclasses
import json
import os
import secrets
import subprocess
import sys
import uuid
from urllib.parse import unquote, urlsplit

import pytest
import requests

from contracts.identity import sign_identity
from legacy_monolith.core.management.seeding.catalog_spec import CATEGORY_TREE
from legacy_monolith.demo.processes import REPO_ROOT, free_port, manage, monolith_process, service_process
from tests.e2e.product_service import running_product_service

pytestmark = pytest.mark.e2e

HOST = "shop.example"
PRODUCTS = "/api/v1/catalog/products"
CATEGORIES = "/api/v1/catalog/categories"
EDGE_ID = 900_001  # the edge rows get explicit ids from here on

IDENTITY_KEY = secrets.token_urlsafe(48)
USER_IDS = """
from legacy_monolith.accounts.models import Role, User
users = User.objects.filter(is_active=True).order_by("id")
print(users.filter(role=Role.STAFF).first().id, users.filter(role=Role.CUSTOMER).first().id)
"""
EDGE_ROWS = f"""
from decimal import Decimal
from legacy_monolith.catalog.models import Category, Product
category = Category.objects.order_by("id").first()
rows = [
    ("EDGE-1", "zebra speaker", "19.99", 3, True, {{"ram_gb": 16, "wireless": True, "ratio": 2.5}}),
    ("EDGE-2", "Zebra speaker", "19.99", 0, True, {{"ram_gb": "16", "wireless": False}}),
    ("EDGE-3", "Über speaker", "19.99", 5, True, {{"brand": "Über"}}),
    ("EDGE-4", "ábaco 100% cotton_mix", "0.00", 1, True, {{}}),
    ("EDGE-5", "hidden speaker", "25.00", 9, False, {{"brand": "Acme"}}),
]
for offset, (sku, name, price, stock, active, attributes) in enumerate(rows):
    Product.objects.create(
        id={EDGE_ID} + offset, sku=sku, name=name, slug=sku.lower(), description=f"Edge row {{sku}}",
        category=category, price=Decimal(price), stock=stock, is_active=active, attributes=attributes,
    )
"""


def _slug(name: str) -> str:
    from django.utils.text import slugify

    return slugify(name)


def contract_requests() -> list[tuple[str, str]]:
    parent, leaves = CATEGORY_TREE[0]
    leaf = leaves[0]
    brand = next(iter(leaf.brands))
    products = [
        "",
        "?page=2",
        "?page=3&page_size=100",
        "?page=9999",
        "?page=0",
        "?page=-1",
        "?page=abc",
        "?page=1&page=2",
        "?page_size=1",
        "?page_size=1&page=2",
        "?page_size=100",
        "?page_size=101",
        "?page_size=0",
        "?page_size=",
        *(
            f"?ordering={o}&page_size=50"
            for o in ("id", "price", "-price", "name", "-name", "stock", "-stock")
        ),
        "?ordering=created_at&page_size=30",
        "?ordering=-created_at&page_size=30&page=2",
        "?ordering=popularity",
        "?ordering=",
        f"?category={_slug(parent)}",
        f"?category={_slug(parent)}&page=2&page_size=10",
        f"?category={_slug(leaf.name)}",
        "?category=no-such-category",
        "?category=",
        f"?category={'x' * 141}",
        "?min_price=100",
        "?max_price=50.5",
        "?min_price=100&max_price=500&ordering=price",
        "?min_price=500&max_price=100",
        "?min_price=-1",
        "?min_price=abc",
        "?min_price=1.234",
        "?max_price=0",
        "?in_stock=true",
        "?in_stock=false",
        "?in_stock=1",
        "?in_stock=no",
        "?in_stock=maybe",
        f"?attr.brand={brand}",
        f"?attr.brand={brand}&attr.brand=Apple",
        "?attr.color=black&ordering=-price",
        "?attr.ram_gb=16",
        "?attr.wireless=true",
        "?attr.ratio=2.5",
        "?attr.brand=%C3%9Cber",
        "?attr.nothing=x",
        "?attr.1bad=x",
        "?attr.=x",
        f"?attr.brand={'y' * 201}",
        "?q=speaker&ordering=name",
        "?q=SPEAKER&ordering=-name",
        f"?q={brand}",
        f"?q={brand.lower()}&page=2",
        "?q=EDGE-",
        "?q=%25",
        "?q=_mix",
        "?q=%C3%BCber",
        "?q=",
        f"?q={'z' * 201}",
        "?q=no-such-thing-anywhere",
        "?include_inactive=true",
        "?include_inactive=false",
        "?include_inactive=maybe",
        "?unknown_param=1",
        "?ordering=-stock&page=5",
        f"?category={_slug(parent)}&ordering=name&page_size=7&page=3",
        "?min_price=0.00&ordering=price&page_size=3",
        "?max_price=19.99&ordering=-price",
        "/",
        f"?category={_slug(parent)}&min_price=100&in_stock=true&attr.brand={brand}&ordering=-price&page_size=5",
    ]
    details = [
        "/1",
        "/2",
        "/17",
        f"/{EDGE_ID}",
        f"/{EDGE_ID + 3}",
        f"/{EDGE_ID + 4}",  # inactive
        "/0",
        "/999999",
        "/9223372036854775807",
        "/9223372036854775808",
        "/10000000000000000000000000",
        "/abc",
        "/-1",
        "/1/",
    ]
    categories = [
        "",
        "?page_size=5",
        "?page_size=5&page=2",
        "?page=50",
        "?page=0",
        "?page_size=x",
        "?page_size=100",
    ]
    plain = (
        [("GET", PRODUCTS + p) for p in products]
        + [("GET", PRODUCTS + d) for d in details]
        + [("GET", CATEGORIES + c) for c in categories]
    )
    heads = [
        ("HEAD", PRODUCTS),
        ("HEAD", PRODUCTS + "?page=0"),
        ("HEAD", PRODUCTS + "/1"),
        ("HEAD", PRODUCTS + "/0"),
    ]
    heads.append(("HEAD", CATEGORIES))
    return plain + heads


@pytest.fixture(scope="module")
def monolith(e2e_database_url, tmp_path_factory):
    var_dir = tmp_path_factory.mktemp("contract-monolith")
    env = {
        "DATABASE_URL": e2e_database_url,
        "STRANGLER_VAR_DIR": str(var_dir),
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(48),
        "PAYMENT_WEBHOOK_SECRET": secrets.token_urlsafe(32),
        "INTERNAL_API_TOKEN": secrets.token_urlsafe(32),
        "INTERNAL_IDENTITY_KEY": IDENTITY_KEY,
        "ALLOWED_HOSTS": "*",
        "LOG_LEVEL": "WARNING",
    }
    manage("migrate", "--noinput", env=env)
    manage(
        "seed_techstore",
        "--no-progress",
        "--users",
        "2",
        "--products",
        "400",
        "--orders",
        "0",
        "--seed",
        "11",
        env=env,
    )
    manage("shell", "-c", EDGE_ROWS, env=env)
    staff_id, customer_id = map(int, manage("shell", "-c", USER_IDS, env=env).stdout.split()[-2:])
    port = free_port()
    process = monolith_process(port=port, env=env, log_path=var_dir / "monolith.log")
    process.start(timeout=60)
    try:
        yield f"http://127.0.0.1:{port}", env, {"staff": staff_id, "customer": customer_id}
    finally:
        process.stop()


@pytest.fixture(scope="module")
def service(monolith, tmp_path_factory):
    redis_url = os.environ.get("REDIS_URL")
    if not redis_url:
        pytest.fail("the contract test runs the service with its Redis cache: set REDIS_URL (make test does)")
    prefix = f"contract-{uuid.uuid4().hex}"
    env = {
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(48),
        "INTERNAL_API_TOKEN": secrets.token_urlsafe(32),
        "REDIS_URL": redis_url,
        "PRODUCT_CACHE_ENABLED": "1",
        "PRODUCT_CACHE_PREFIX": prefix,
        "INTERNAL_IDENTITY_KEY": IDENTITY_KEY,  # the gateway's signed identity counts on both sides
    }
    with running_product_service(var_dir=tmp_path_factory.mktemp("contract-service"), env=env) as running:
        loaded = subprocess.run(
            [
                sys.executable,
                "-m",
                "bench.catalog_service_load",
                "--service-url",
                running.url,
                "--no-progress",
            ],
            cwd=REPO_ROOT,
            env={**os.environ, **monolith[1], "INTERNAL_API_TOKEN": running.token},
            capture_output=True,
            text=True,
            check=False,
        )
        assert loaded.returncode == 0, loaded.stderr
        yield running, json.loads(loaded.stdout.strip().splitlines()[-1])
    import redis

    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(f"{prefix}:*", count=10_000))
    if keys:
        client.delete(*keys)


def ask(base: str, method: str, path: str, headers: dict | None = None) -> requests.Response:
    return requests.request(
        method, base + path, headers={"Host": HOST, **(headers or {})}, timeout=30, allow_redirects=False
    )


def signed_identity(user_id: int, role: str, method: str, path: str) -> dict:
    """What the gateway adds for a JWT user (extracted/auth_service/internal_identity.py)."""
    value = sign_identity(
        key=IDENTITY_KEY, user_id=user_id, roles=[role], scope=(), jti=uuid.uuid4().hex, method=method,
        path=unquote(urlsplit(path).path),
    )  # fmt: skip
    return {"X-Strangler-Identity": value}


def test_every_product_and_category_was_loaded(monolith, service):
    _, summary = service
    assert summary["products"] == 405
    assert summary["stale"] == 0


@pytest.mark.parametrize(("method", "path"), contract_requests())
def test_the_service_answers_like_the_monolith(monolith, service, method, path):
    expected = ask(monolith[0], method, path)
    for attempt in ("store", "cache"):  # the second answer comes from the service's cache
        actual = ask(service[0].url, method, path)
        assert (actual.status_code, attempt) == (expected.status_code, attempt)
        assert actual.headers["Content-Type"] == expected.headers["Content-Type"]
        if method == "HEAD":
            assert actual.content == b""
            assert actual.headers["Content-Length"] == expected.headers["Content-Length"]
        else:
            assert actual.json() == expected.json(), attempt


def test_with_its_redis_down_the_service_still_answers_like_the_monolith(monolith, service, tmp_path):
    """A second service process on the same database, its Redis a closed port: every answer uncached,
    none a 5xx. (Ready means /healthz here: /readyz reports the missing Redis.)"""
    running, _ = service
    port = free_port()
    env = {
        **running.env,
        "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",
        "PRODUCT_CACHE_ENABLED": "1",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prometheus"),  # not the first service's metrics
    }
    process = service_process(
        "product_service", port=port, env=env, workers=1, log_path=tmp_path / "down.log"
    )
    with dataclasses.replace(process, ready_url=f"http://127.0.0.1:{port}/healthz"):
        for method, path in contract_requests()[::7]:
            expected = ask(monolith[0], method, path)
            actual = ask(f"http://127.0.0.1:{port}", method, path)
            assert (path, actual.status_code) == (path, expected.status_code)
            if method == "GET":
                assert actual.json() == expected.json()


STAFF_REQUESTS = [
    ("GET", PRODUCTS + "?include_inactive=true"),
    ("GET", PRODUCTS + "?include_inactive=true&ordering=-price&page=2"),
    ("GET", PRODUCTS + "?include_inactive=true&q=speaker&ordering=name"),
    ("GET", PRODUCTS + f"/{EDGE_ID + 4}"),  # inactive
    ("HEAD", PRODUCTS + f"/{EDGE_ID + 4}"),
    ("GET", PRODUCTS + "?include_inactive=maybe"),
]


@pytest.mark.parametrize("role", ["staff", "customer"])
@pytest.mark.parametrize(("method", "path"), STAFF_REQUESTS)
def test_a_signed_gateway_identity_gets_the_monolith_answer(monolith, service, role, method, path):
    """Staff see inactive products on both sides; a customer's identity gets the customer answers. (The
    monolith takes the role from its user table, the service from the signed identity: the Auth service
    mirrors the one into the other.)"""
    user_id = monolith[2][role]
    expected = ask(monolith[0], method, path, signed_identity(user_id, role, method, path))
    actual = ask(service[0].url, method, path, signed_identity(user_id, role, method, path))
    assert actual.status_code == expected.status_code
    if method == "GET":
        assert actual.json() == expected.json()


def cache_hits(service_url: str) -> tuple[float, str]:
    metrics = requests.get(service_url + "/metrics", timeout=10).text
    hits = sum(
        float(line.rsplit(" ", 1)[1])
        for line in metrics.splitlines()
        if line.startswith("product_cache_lookups_total{") and 'result="hit"' in line
    )
    return hits, metrics


def test_a_repeated_request_is_a_cache_hit_in_the_service_metrics(service):
    url = service[0].url
    path = f"{PRODUCTS}?ordering=-price&page=3&page_size=7"
    before, _ = cache_hits(url)
    first, second = ask(url, "GET", path), ask(url, "GET", path)
    assert first.json() == second.json()
    after, metrics = cache_hits(url)
    assert after >= before + 1
    assert "product_cache_hit_ratio{" in metrics
