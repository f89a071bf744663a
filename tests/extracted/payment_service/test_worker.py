"""The charge tasks on a real Celery worker (`python -m extracted.payment_service worker`) over a RabbitMQ
virtual host of the test's own, against the sandbox: provider failures are retried with backoff, bounded
by the payment's deadline; what the deadline cuts off fails, never charged later."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.utils import timezone
from kombu import pools

from chassis.celery_app import app, celery_settings
from extracted.payment_service.models import Payment
from legacy_monolith.demo.processes import python_argv
from tests.background import background, rabbitmq_vhost, wait_until

pytestmark = pytest.mark.django_db(transaction=True)

CARD = {"number": "4242424242424242", "exp_month": 12, "exp_year": 2030, "cvc": "123"}


@pytest.fixture
def worker(settings, tmp_path, providers):
    """A real worker on this session's test database and a vhost of its own; this process sends to it."""
    with rabbitmq_vhost() as url:
        settings.BROKER_URL, settings.BROKER_TRANSPORT_OPTIONS = url, {"confirm_publish": True}
        _reset(settings)
        db = connection.settings_dict
        env = {
            "PAYMENT_DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
            "BROKER_URL": url,
            "STRANGLER_VAR_DIR": str(tmp_path / "var"),
            "PAYMENT_CARDINAL_URL": settings.PAYMENT_GATEWAYS["cardinal"],
            "PAYMENT_NORTHPAY_URL": settings.PAYMENT_GATEWAYS["northpay"],
            "PAYMENT_VELOCITY_PREFIX": settings.PAYMENT_VELOCITY_PREFIX,
        }
        argv = python_argv(
            "-m", "extracted.payment_service", "worker", "--pool", "threads", "--concurrency", "4"
        )
        with background(argv, env, tmp_path / "worker.log"):
            yield
        settings.BROKER_URL = ""
        _reset(settings)


def _reset(settings) -> None:
    """This process's Celery app on the settings' broker (pooled connections dropped)."""
    app.conf.update(celery_settings(settings))
    pools.reset()
    app._pool = None
    app.amqp._producer_pool = None


def _charge(internal_client, number: str, **extra) -> int:
    answer = internal_client.post(
        "/internal/v1/payments",
        {"order_number": number, "user_id": 9, "amount": "30.00", "currency": "EUR", "card": CARD, **extra},
        format="json",
        HTTP_IDEMPOTENCY_KEY=f"order-{number}",
    )
    assert answer.status_code == 202, answer.json()
    return answer.json()["id"]


def _status(payment_id: int) -> str:
    return Payment.objects.get(pk=payment_id).status


def test_a_provider_outage_is_retried_until_it_answers(worker, providers, internal_client):
    providers.set_knobs("cardinal", error_rate=1.0, operations=["authorize"])
    payment_id = _charge(internal_client, "TS-W1")
    wait_until(lambda: Payment.objects.get(pk=payment_id).attempts >= 2, "two failed attempts", timeout=60)
    providers.set_knobs("cardinal", error_rate=0.0)
    wait_until(lambda: _status(payment_id) == "captured", "the retried charge", timeout=60)
    assert len(providers.charges("cardinal")) == 1


def test_retries_stop_at_the_deadline_and_nothing_is_charged_after_it(worker, providers, internal_client):
    warm_up = _charge(internal_client, "TS-W0")
    wait_until(lambda: _status(warm_up) == "captured", "the worker to run a charge", timeout=60)
    providers.reset()
    providers.set_knobs("cardinal", error_rate=1.0, operations=["authorize"])
    deadline = timezone.now() + dt.timedelta(seconds=4)
    payment_id = _charge(internal_client, "TS-W2", deadline=deadline.isoformat())
    wait_until(lambda: _status(payment_id) == "failed", "the payment to fail at its deadline", timeout=60)
    payment = Payment.objects.get(pk=payment_id)
    assert payment.failure_code == "gateway_unavailable"
    assert payment.attempts >= 2
    assert payment.updated_at >= deadline - dt.timedelta(seconds=1)
    providers.set_knobs("cardinal", error_rate=0.0)
    assert providers.charges("cardinal") == []
