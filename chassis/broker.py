"""Publishing events: a kombu connection from BROKER_URL (amqp, or filesystem in the embedded profile), the
durable `strangler.events` topic exchange, publisher confirms on amqp, retries with exponential backoff and
full jitter (kernel.retry), then a clear
PublishError. Importable without Django settings (pass url/options) so migration jobs can use it too.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Mapping
from typing import Any

from amqp.exceptions import MessageNacked
from kombu import Connection, Exchange, Producer
from kombu.exceptions import OperationalError
from tenacity import RetryError

from chassis.settings import EVENTS_EXCHANGE
from contracts.events import Envelope
from kernel.mtls import amqp_ssl
from kernel.retry import retrying

log = logging.getLogger(__name__)


class PublishError(RuntimeError):
    """The broker did not confirm a message within the retry budget."""


def events_exchange(name: str = EVENTS_EXCHANGE) -> Exchange:
    return Exchange(name, type="topic", durable=True)


def transport_options_for(url: str, options: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Options as given, with publisher confirms switched on for amqp."""
    merged = dict(options or {})
    if url.startswith(("amqp", "pyamqp")):
        merged.setdefault("confirm_publish", True)
    return merged


def broker_connection(
    url: str | None = None, transport_options: Mapping[str, Any] | None = None
) -> Connection:
    """A kombu Connection; without arguments, the Django settings' BROKER_URL and transport options."""
    if url is None:
        from django.conf import settings

        url, transport_options = settings.BROKER_URL, settings.BROKER_TRANSPORT_OPTIONS
    return Connection(
        url,
        connect_timeout=5,
        transport_options=transport_options_for(url, transport_options),
        ssl=amqp_ssl(url),
    )


class Publisher:
    """One connection and producer per publisher (not thread-safe: one per thread)."""

    def __init__(
        self,
        url: str,
        *,
        transport_options: Mapping[str, Any] | None = None,
        exchange: str = EVENTS_EXCHANGE,
        attempts: int = 5,
        backoff_max: float = 5.0,
        confirm_timeout: float = 10.0,
    ):
        self.url = url
        self.transport_options = transport_options_for(url, transport_options)
        self.exchange = events_exchange(exchange)
        self.attempts = attempts
        self.backoff_max = backoff_max
        self.confirm_timeout = confirm_timeout
        self._connection: Connection | None = None
        self._producer: Producer | None = None
        probe = Connection(url, transport_options=self.transport_options, ssl=amqp_ssl(url))
        self._retry_on = (
            *probe.connection_errors,
            *probe.channel_errors,
            MessageNacked,
            OperationalError,
            OSError,
            socket.timeout,
        )

    def publish(self, envelope: Envelope, routing_key: str | None = None) -> None:
        """Publish and wait for the broker's confirm (amqp); retried on connection errors and nacks."""
        policy = retrying(
            retry_on=self._retry_on,
            attempts=self.attempts,
            base=0.1,
            cap=self.backoff_max,
            before_sleep=self._before_retry,
            reraise=False,
        )
        try:
            policy(self._publish_once, envelope, routing_key or envelope.type)
        except RetryError as exc:
            last = exc.last_attempt.exception()
            self.close()
            raise PublishError(
                f"event {envelope.id} ({envelope.type}) not confirmed after {self.attempts} attempts: "
                f"{last!r}"
            ) from last

    def _publish_once(self, envelope: Envelope, routing_key: str) -> None:
        if self._producer is None:
            self._connection = Connection(
                self.url, connect_timeout=5, transport_options=self.transport_options, ssl=amqp_ssl(self.url)
            )
            self._connection.ensure_connection(max_retries=1, interval_start=0, interval_step=0)
            self._producer = Producer(self._connection.channel(), exchange=self.exchange)
            self.exchange(self._producer.channel).declare()
        self._producer.publish(
            envelope.to_json(),
            routing_key=routing_key,
            content_type="application/json",
            content_encoding="utf-8",
            delivery_mode=2,
            message_id=envelope.id,
            headers={"trace_id": envelope.trace_id},
            confirm_timeout=self.confirm_timeout,
        )

    def _before_retry(self, state) -> None:
        log.warning(
            "publish attempt %s failed (%r); retrying", state.attempt_number, state.outcome.exception()
        )
        self.close()

    def close(self) -> None:
        producer, connection = self._producer, self._connection
        self._producer = self._connection = None
        if connection is not None:
            try:
                connection.release()
            except Exception:  # a dead connection may fail to close; it is dropped either way
                log.debug("closing a broken broker connection failed", exc_info=True)
        del producer

    def __enter__(self) -> Publisher:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


_local = threading.local()


def default_publisher() -> Publisher:
    """This thread's Publisher on the Django settings' broker."""
    publisher = getattr(_local, "publisher", None)
    if publisher is None:
        from django.conf import settings

        publisher = _local.publisher = Publisher(
            settings.BROKER_URL,
            transport_options=settings.BROKER_TRANSPORT_OPTIONS,
            exchange=settings.EVENTS_EXCHANGE,
        )
    return publisher


def publish(envelope: Envelope, routing_key: str | None = None) -> None:
    """Publish on the settings' broker (routing key: the event type unless given); else PublishError."""
    default_publisher().publish(envelope, routing_key)
