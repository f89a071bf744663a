"""PostgreSQL LISTEN/NOTIFY, so that a process waiting for a row to change is woken instead of polling.

A notification is a hint, never the record: whoever is woken reads the database, and whoever waits also
reads it again after a bounded wait (a notification sent while the listening connection was down is lost).
Triggers send them (a NOTIFY is delivered when its transaction commits, and not at all when it rolls
back), so writers pay no extra round trip. SQLite (the embedded profile) has no NOTIFY: `PgListener` then
never connects and callers keep their polling.

- `PgListener(channels)`: one dedicated autocommit connection (not Django's, which is per thread and
  transactional); `wait(timeout)` returns the (channel, payload) pairs that arrived, [] after the timeout,
  or None when it cannot listen (not PostgreSQL, or the connection failed: it reconnects on a later call).
- `NotificationHub(channel)`: one listener thread per process that sets the `threading.Event` of every
  waiter subscribed to a payload (the web process' waits for a saga's outcome).
"""

from __future__ import annotations

import logging
import os
import select
import threading
import time
from collections.abc import Sequence

log = logging.getLogger(__name__)
RECONNECT_SECONDS = 2.0


class PgListener:
    def __init__(self, channels: Sequence[str], using: str = "default"):
        self.channels = tuple(channels)
        self.using = using
        self._connection = None
        self._next_attempt = 0.0
        self._wake_read, self._wake_write = os.pipe()  # interrupt(): ends a wait at once
        os.set_blocking(self._wake_read, False)

    @property
    def supported(self) -> bool:
        from django.db import connections

        return connections[self.using].vendor == "postgresql"

    @property
    def listening(self) -> bool:
        return self._connection is not None

    def connect(self) -> bool:
        """LISTEN now (True), or not (not PostgreSQL, or the database cannot be reached)."""
        if self._connection is not None:
            return True
        if not self.supported or time.monotonic() < self._next_attempt:
            return False
        from django.db import connections

        wrapper = connections[self.using]
        try:
            raw = wrapper.get_new_connection(wrapper.get_connection_params())
            raw.autocommit = True
            with raw.cursor() as cursor:
                for channel in self.channels:
                    cursor.execute(f'LISTEN "{channel}"')
        except Exception as exc:  # the database is down: the callers poll meanwhile
            self._next_attempt = time.monotonic() + RECONNECT_SECONDS
            log.warning("LISTEN %s: cannot connect (%r); polling meanwhile", ",".join(self.channels), exc)
            return False
        self._connection = raw
        return True

    def wait(self, timeout: float) -> list[tuple[str, str]] | None:
        """Notifications that arrived (at most `timeout` seconds of waiting); None when not listening."""
        if not self.connect():
            return None
        connection = self._connection
        try:
            if not connection.notifies:
                readable, _, _ = select.select([connection, self._wake_read], [], [], max(0.0, timeout))
                if self._wake_read in readable:
                    self._drain_wake()
                if connection in readable:
                    connection.poll()
            else:
                connection.poll()
            arrived = [(n.channel, n.payload) for n in connection.notifies]
            connection.notifies.clear()
            return arrived
        except Exception as exc:  # a lost connection: reconnect on a later call, poll meanwhile
            log.warning("LISTEN %s: connection lost (%r)", ",".join(self.channels), exc)
            self.close()
            self._next_attempt = time.monotonic() + RECONNECT_SECONDS
            return None

    def interrupt(self) -> None:
        """End the current (or the next) wait now, e.g. on SIGTERM."""
        os.write(self._wake_write, b"x")

    def _drain_wake(self) -> None:
        try:
            while os.read(self._wake_read, 64):
                pass
        except BlockingIOError:
            pass

    def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                connection.close()
            except Exception:  # already broken
                log.debug("closing a LISTEN connection failed", exc_info=True)


class NotificationHub:
    """Waiters subscribe to a payload on `channel`; one daemon thread listens and wakes them."""

    def __init__(self, channel: str, using: str = "default"):
        self.listener = PgListener([channel], using=using)
        self._waiters: dict[str, set[threading.Event]] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()

    @property
    def listening(self) -> bool:
        return self.listener.listening

    def subscribe(self, payload: str) -> threading.Event:
        self._start()
        event = threading.Event()
        with self._lock:
            self._waiters.setdefault(payload, set()).add(event)
        return event

    def unsubscribe(self, payload: str, event: threading.Event) -> None:
        with self._lock:
            events = self._waiters.get(payload)
            if events is not None:
                events.discard(event)
                if not events:
                    del self._waiters[payload]

    def _start(self) -> None:
        if self._thread is not None or not self.listener.supported:
            return
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="pg-listen", daemon=True)
                self._thread.start()
        self._ready.wait(timeout=2.0)  # the first subscriber waits for LISTEN (else it polls anyway)

    def _run(self) -> None:
        self.listener.connect()
        self._ready.set()
        while True:
            arrived = self.listener.wait(1.0)
            if arrived is None:
                time.sleep(RECONNECT_SECONDS / 4)
                continue
            if not arrived:
                continue
            with self._lock:
                for _, payload in arrived:
                    for event in self._waiters.get(payload, ()):
                        event.set()
