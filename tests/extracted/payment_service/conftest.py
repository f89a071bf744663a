"""The Payment service's own test session (settings extracted.payment_service.settings, database
PAYMENT_DATABASE_URL, real PostgreSQL, Redis and the sandbox process): run it with `pytest
--ds=extracted.payment_service.settings --confcutdir=tests/extracted/payment_service
tests/extracted/payment_service`.
"""

from __future__ import annotations

import os
import uuid
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from chassis.celery_app import app as celery_app
from extracted.payment_service import keys, velocity
from extracted.payment_service.providers import CardDetails
from extracted.payment_service.services.charges import ChargeRequest
from tests.sandbox_fixtures import GATEWAYS, sandbox, sandbox_server  # noqa: F401 (fixtures)

APPROVED = "4242424242424242"
DECLINED = "4000000000000002"
INSUFFICIENT = "4000000000009995"


def card(number: str = APPROVED, holder: str = "Ada Lovelace") -> CardDetails:
    return CardDetails(number=number, exp_month=12, exp_year=2030, cvc="123", holder=holder)


def charge_request(**overrides) -> ChargeRequest:
    values = {
        "order_number": f"TS-{uuid.uuid4().hex[:8].upper()}",
        "user_id": 7,
        "amount": Decimal("49.90"),
        "currency": "EUR",
        "idempotency_key": uuid.uuid4().hex,
        "gateway": "cardinal",
        "card": card(),
        "shipping_country": "FR",
    }
    values.update(overrides)
    return ChargeRequest(**values)


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def internal_client(settings) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {settings.INTERNAL_API_TOKEN}")
    return client


@pytest.fixture(autouse=True)
def own_velocity_namespace(settings):
    """Velocity counters under a prefix of this test's own on the shared Redis (nothing is flushed)."""
    settings.PAYMENT_VELOCITY_PREFIX = f"test-payments-{uuid.uuid4().hex}"
    velocity._store.cache_clear()
    yield
    store = velocity.velocity_store()
    if isinstance(store, velocity.RedisVelocity):
        stale = list(store.client.scan_iter(f"{settings.PAYMENT_VELOCITY_PREFIX}*", count=1000))
        if stale:
            store.client.delete(*stale)
    velocity._store.cache_clear()


@pytest.fixture(autouse=True)
def fresh_key_cache():
    keys.forget_cached_keys()
    yield
    keys.forget_cached_keys()


@pytest.fixture
def providers(sandbox, settings):  # noqa: F811 (the sandbox fixture)
    """The sandbox with both live gateways and their test-mode twins wired into the settings."""
    settings.PAYMENT_TEST_GATEWAYS = {name: f"{sandbox.base_url}/{name}-test" for name in GATEWAYS}
    for name in GATEWAYS:
        sandbox.set_knobs(f"{name}-test", webhook_secret=settings.PAYMENT_WEBHOOK_SECRET)
    return sandbox


@pytest.fixture
def eager_tasks():
    """Celery tasks run in-process when sent (the worker's own tests run real workers)."""
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = previous


@pytest.fixture
def redis_url() -> str:
    url = os.environ.get("REDIS_URL")
    if not url:
        pytest.fail("the velocity tests run against a real Redis: set REDIS_URL (make test does)")
    return url


IDENTITY_KEY = "test-internal-identity-key-0123456789abcdef"


@pytest.fixture
def as_user(settings):
    """`as_user(client, user_id, role, method, path)` signs the gateway's identity header for one request."""
    from contracts.identity import sign_identity

    settings.INTERNAL_IDENTITY_KEY = IDENTITY_KEY

    def sign(user_id: int, role: str, method: str, path: str) -> dict:
        value = sign_identity(
            key=IDENTITY_KEY,
            user_id=user_id,
            roles=[role],
            scope=["read", "write"],
            jti="t",
            method=method,
            path=path,
        )
        return {"HTTP_X_STRANGLER_IDENTITY": value}

    return sign
