"""The services profile's queue: kombu on RabbitMQ, topic exchange `strangler.shadow`, routing key
`shadow.<route id>`, persistent messages; the comparator reads the durable queue `shadow.comparator`."""

from __future__ import annotations

import contextlib

from kernel.mtls import amqp_ssl
from shadow.pairs import ShadowPair

from .addresses import ROUTING_PREFIX, Message, QueueTarget, routing_key


class AmqpPublisher:
    """Publishes to the topic exchange with kombu: persistent messages, no confirms. A broker that is slow
    to answer or briefly away (a restart) is retried for a few seconds (kombu's retry policy): this runs in
    the BackgroundPublisher's thread, so only that thread waits."""

    RETRY_POLICY = {"max_retries": 3, "interval_start": 0.2, "interval_step": 0.5, "interval_max": 2.0}

    def __init__(self, target: QueueTarget, *, connect_timeout: float = 5.0) -> None:
        from kombu import Connection, Exchange

        self.target = target
        self.exchange = Exchange(target.exchange, type="topic", durable=True)
        self._connection = Connection(target.url, connect_timeout=connect_timeout, ssl=amqp_ssl(target.url))
        self._producer = None

    def publish(self, pair: ShadowPair) -> None:
        if self._producer is None:
            self._connection.ensure_connection(**self.RETRY_POLICY)
            self._producer = self._connection.Producer(exchange=self.exchange)
        self._producer.publish(
            pair.to_json(),
            routing_key=routing_key(pair.route),
            content_type="application/json",
            content_encoding="utf-8",
            delivery_mode=2,
            headers={"trace_id": pair.trace_id, "pair_id": pair.id},
            declare=[self.exchange],
            retry=True,
            retry_policy=self.RETRY_POLICY,
        )

    def reset(self) -> None:
        self._producer = None
        with contextlib.suppress(Exception):
            self._connection.close()
        self._connection = self._connection.clone()

    def close(self) -> None:
        self._producer = None
        with contextlib.suppress(Exception):
            self._connection.release()


class AmqpReader:
    """Reads the durable comparator queue (declared and bound to `shadow.#` on open)."""

    def __init__(self, target: QueueTarget, *, prefetch: int = 200) -> None:
        from kombu import Connection, Exchange, Queue

        self.target = target
        self.exchange = Exchange(target.exchange, type="topic", durable=True)
        self.queue = Queue(target.queue, self.exchange, routing_key=ROUTING_PREFIX + "#", durable=True)
        self._connection = Connection(target.url, connect_timeout=5, ssl=amqp_ssl(target.url))
        self._connection.ensure_connection(max_retries=3)
        self._channel = self._connection.channel()
        self.queue(self._channel).declare()
        self._channel.basic_qos(0, prefetch, False)

    def poll(self, max_messages: int = 1000) -> list[Message]:
        messages: list[Message] = []
        bound = self.queue(self._channel)
        while len(messages) < max_messages:
            message = bound.get(no_ack=False, accept=["application/json"])
            if message is None:
                break
            body = message.body
            body = body.encode("utf-8") if isinstance(body, str) else bytes(body)
            messages.append(Message(body, message.ack, source=self.target.queue))
        return messages

    def rewind(self) -> None:
        """Unacknowledged messages go back to the queue."""
        with contextlib.suppress(Exception):
            self._channel.basic_recover(requeue=True)

    def commit(self) -> None:
        return None

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._channel.close()
        with contextlib.suppress(Exception):
            self._connection.release()
