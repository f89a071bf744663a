"""The Forwarder's options: declared for mitmproxy (`declare_options`) and parsed once into an immutable
ForwarderSettings (`parse_settings`; a bad value is a ValueError naming the option, which the addon turns
into OptionsError at start)."""

from __future__ import annotations

from dataclasses import dataclass

from mitmproxy.utils import human

from kernel.resilience import BreakerConfig
from strangler_proxy.resilience import Timeouts, parse_statuses, parse_timeouts

DEFAULT_STREAM_THRESHOLD = "1m"


@dataclass(frozen=True, slots=True)
class ForwarderSettings:
    """The Forwarder's options, parsed once. `breaker` is the default of every route's breaker (routes.yaml
    `defaults.breaker` and a route's own `breaker:` override it field by field)."""

    enabled: bool
    buffer_limit: int
    default_timeouts: Timeouts
    timeouts: dict[str, Timeouts]
    keepalive: float
    queue_timeout: float
    breaker: BreakerConfig
    failure_statuses: frozenset[int]


def declare_options(loader) -> None:
    loader.add_option(
        "strangler_forward", bool, True, "Call upstreams through the pooled client (False: mitmproxy)."
    )
    loader.add_option(
        "strangler_buffer_limit",
        str,
        DEFAULT_STREAM_THRESHOLD,
        "Largest upstream answer the Forwarder buffers (e.g. 1m); larger answers to GET/HEAD are left "
        "to mitmproxy's streaming. stream_large_bodies is set to this when unset.",
    )
    loader.add_option("strangler_connect_timeout", str, "2", "Seconds to connect to an upstream.")
    loader.add_option(
        "strangler_read_timeout", str, "0", "Seconds between two reads from an upstream (0: none)."
    )
    loader.add_option(
        "strangler_upstream_timeouts",
        str,
        "",
        "Per-upstream connect/read timeouts: NAME:connect=S:read=S,NAME2:connect=S",
    )
    loader.add_option(
        "strangler_keepalive_timeout",
        str,
        "1.5",
        "Seconds an idle pooled upstream connection is kept; keep it below the upstream's own "
        "keep-alive timeout (gunicorn: 2 s) so a request never lands on a connection being closed.",
    )
    loader.add_option(
        "strangler_bulkhead_queue_timeout",
        str,
        "0.1",
        "Seconds a request waits for a free bulkhead slot before 503 (reason bulkhead_full).",
    )
    loader.add_option(
        "strangler_breaker_failures",
        int,
        5,
        "Consecutive failures that open a breaker (default of routes.yaml's breaker.failures).",
    )
    loader.add_option(
        "strangler_breaker_failure_rate", str, "0.5", "Failure rate in the window that opens a breaker."
    )
    loader.add_option("strangler_breaker_window", str, "10", "Seconds of the failure-rate window.")
    loader.add_option(
        "strangler_breaker_min_calls", int, 20, "Calls in the window before the failure rate counts."
    )
    loader.add_option("strangler_breaker_cooldown", str, "5", "Seconds a breaker stays open.")
    loader.add_option(
        "strangler_breaker_half_open_calls",
        int,
        1,
        "Trial calls (and successes to close) when half-open.",
    )
    loader.add_option(
        "strangler_breaker_failure_statuses",
        str,
        "502,503,504",
        "Upstream statuses that count as failures (breaker, fallback).",
    )


def parse_settings(options) -> ForwarderSettings:
    """The Forwarder's options as one immutable object; ValueError names the bad option."""

    def seconds(name: str, *, allow_zero: bool = False) -> float:
        raw = getattr(options, name)
        try:
            value = float(raw)
        except ValueError:
            raise ValueError(f"{name}={raw!r} is not a number of seconds") from None
        if value < 0 or (value == 0 and not allow_zero):
            raise ValueError(f"{name}={raw!r} must be {'non-negative' if allow_zero else 'positive'}")
        return value

    try:
        limit = human.parse_size(options.strangler_buffer_limit)
    except ValueError as exc:
        raise ValueError(f"strangler_buffer_limit: {exc}") from None
    if not limit:
        raise ValueError("strangler_buffer_limit must be a positive size such as 1m")
    read = seconds("strangler_read_timeout", allow_zero=True)
    default = Timeouts(connect=seconds("strangler_connect_timeout"), read=read or None)
    try:
        rate = float(options.strangler_breaker_failure_rate)
        breaker = BreakerConfig(
            consecutive_failures=options.strangler_breaker_failures,
            failure_rate=rate,
            window=seconds("strangler_breaker_window"),
            min_calls=options.strangler_breaker_min_calls,
            cooldown=seconds("strangler_breaker_cooldown"),
            half_open_calls=options.strangler_breaker_half_open_calls,
        )
    except ValueError as exc:
        raise ValueError(f"breaker options: {exc}") from None
    return ForwarderSettings(
        enabled=options.strangler_forward,
        buffer_limit=limit,
        default_timeouts=default,
        timeouts=dict(parse_timeouts(options.strangler_upstream_timeouts, default)),
        keepalive=seconds("strangler_keepalive_timeout"),
        queue_timeout=seconds("strangler_bulkhead_queue_timeout", allow_zero=True),
        breaker=breaker,
        failure_statuses=parse_statuses(options.strangler_breaker_failure_statuses),
    )
