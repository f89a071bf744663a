"""The relay's Prometheus metrics, served on an optional port while `sync products follow` runs."""

from __future__ import annotations

import prometheus_client

from chassis.metrics import gauge

OUTBOX_PENDING = gauge(
    "strangler_sync_outbox_pending", "Outbox rows not yet published by the relay", mode="max"
)
LAG_SECONDS = gauge(
    "strangler_sync_lag_seconds", "Age of the oldest unpublished outbox row (relay lag)", mode="max"
)
# Events published and publish failures: the chassis relay's outbox_relay_published_total and
# outbox_relay_failures_total, label relay="monolith".


def serve(port: int, host: str = "127.0.0.1"):
    """Start the /metrics endpoint in a thread; returns the server for stop()."""
    server, _thread = prometheus_client.start_http_server(port, addr=host)
    return server


def stop(server) -> None:
    server.shutdown()
    server.server_close()
