"""Channels for the internal gRPC calls: retries by gRPC's own service config (retryPolicy: exponential
backoff with jitter, on UNAVAILABLE only, within the call's deadline), the internal CA and this process's
certificate when mutual TLS is configured, and the bearer token and trace headers as metadata.

One channel per (target, TLS) per process, shared by its threads (a gRPC channel is thread-safe and keeps
its HTTP/2 connection open); made on first use, so a process that forks first builds its own."""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence

import grpc
from django.conf import settings

from chassis.grpc_errors import error_reason, status_details
from chassis.tracing import outbound_headers
from kernel.mtls import MutualTls

__all__ = ["call_metadata", "error_reason", "internal_channel", "retry_service_config", "status_details"]

# Attempts of one call (the first included) and gRPC's backoff: a retry waits random(0, min(initial *
# multiplier^(n-1), max)) — full jitter — and never past the call's deadline.
MAX_ATTEMPTS = 4
INITIAL_BACKOFF = "0.05s"
MAX_BACKOFF = "1s"
BACKOFF_MULTIPLIER = 2

_channels: dict[tuple, grpc.Channel] = {}
_lock = threading.Lock()


def retry_service_config(services: Sequence[str]) -> str:
    return json.dumps(
        {
            "methodConfig": [
                {
                    "name": [{"service": name} for name in services],
                    "retryPolicy": {
                        "maxAttempts": MAX_ATTEMPTS,
                        "initialBackoff": INITIAL_BACKOFF,
                        "maxBackoff": MAX_BACKOFF,
                        "backoffMultiplier": BACKOFF_MULTIPLIER,
                        "retryableStatusCodes": ["UNAVAILABLE"],
                    },
                }
            ]
        }
    )


def _credentials(mutual: MutualTls) -> grpc.ChannelCredentials:
    with open(mutual.ca, "rb") as ca, open(mutual.key, "rb") as key, open(mutual.cert, "rb") as cert:
        return grpc.ssl_channel_credentials(
            root_certificates=ca.read(), private_key=key.read(), certificate_chain=cert.read()
        )


def internal_channel(
    target: str, *, services: Sequence[str], mutual: MutualTls | None = None
) -> grpc.Channel:
    """The process's channel to `target` (host:port) for these services, made once."""
    key = (target, tuple(services), mutual)
    channel = _channels.get(key)
    if channel is None:
        with _lock:
            channel = _channels.get(key)
            if channel is None:
                options = [
                    ("grpc.enable_retries", 1),
                    ("grpc.service_config", retry_service_config(services)),
                    ("grpc.keepalive_time_ms", 30_000),
                ]
                if mutual is None:
                    channel = grpc.insecure_channel(target, options=options)
                else:
                    channel = grpc.secure_channel(target, _credentials(mutual), options=options)
                _channels[key] = channel
    return channel


def call_metadata() -> tuple[tuple[str, str], ...]:
    """authorization (INTERNAL_API_TOKEN), traceparent and the request id of this hop."""
    headers = {name.lower(): value for name, value in outbound_headers().items()}
    return (("authorization", f"Bearer {settings.INTERNAL_API_TOKEN}"), *headers.items())
