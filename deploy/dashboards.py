"""Grafana dashboards, generated with grafanalib (never hand-edited JSON), provisioned from
deploy/grafana/dashboards/ by the compose profile's Grafana:

- Migration per route (variable `route`): traffic split legacy vs target, errors and latency per upstream,
  fallbacks, breakers, shadow copies, shadow match;
- RED per service (variable `job`: every process Prometheus scrapes): rate, errors, duration;
- Sync, sagas and dead letters;
- Logs of one request (Loki): every line of every process carrying a request id or a trace id.

A panel whose metric the code does not export yet is left out (deploy/metrics_catalog.py), like alerts.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from grafanalib import core as g
from grafanalib._gen import DashboardEncoder

from deploy import metrics_catalog

PROMETHEUS = "Prometheus"  # datasource names of deploy/grafana/provisioning/datasources/datasources.yaml
LOKI = "Loki"
COMPARED = "strangler_shadow_pairs_compared_total"  # shadow/metrics.py: by route and outcome
JUDGED = '"matched|noise|mismatched"'  # the outcomes of comparable pairs (not `skipped`)
WIDTH, HEIGHT = 12, 8


def _series(title: str, *queries: tuple[str, str], unit: str = "short") -> g.TimeSeries | None:
    """A time series panel, or None when one of its metrics is not exported (the panel waits)."""
    if any(metrics_catalog.missing(expr) for expr, _ in queries):
        return None
    targets = [
        g.Target(expr=expr, legendFormat=legend, refId=chr(ord("A") + i), datasource=PROMETHEUS)
        for i, (expr, legend) in enumerate(queries)
    ]
    return g.TimeSeries(title=title, dataSource=PROMETHEUS, targets=targets, unit=unit)


def _layout(panels: Iterable[g.Panel | None]) -> list[g.Panel]:
    placed = []
    for index, panel in enumerate(p for p in panels if p is not None):
        panel.gridPos = g.GridPos(h=HEIGHT, w=WIDTH, x=(index % 2) * WIDTH, y=(index // 2) * HEIGHT)
        placed.append(panel)
    return placed


def _variable(name: str, query: str, label: str) -> g.Template:
    return g.Template(name=name, query=query, dataSource=PROMETHEUS, label=label, refresh=2)


def _quantile(q: float, metric: str, selector: str, by: str) -> str:
    return (
        f"histogram_quantile({q}, sum by (le, {by}) (rate({metric}_bucket{{{selector}}}[$__rate_interval])))"
    )


def _rate(metric: str, selector: str = "", by: str = "") -> str:
    grouping = f"sum by ({by}) " if by else "sum"
    return f"{grouping}(rate({metric}{{{selector}}}[$__rate_interval]))"


def migration_dashboard() -> g.Dashboard:
    route = 'route="$route"'
    outcomes = "strangler_route_outcomes_total"
    panels = [
        _series(
            "Traffic by upstream the flag chose (legacy vs target)",
            (_rate(outcomes, route, "upstream"), "{{upstream}}"),
            unit="reqps",
        ),
        _series(
            "Errors by upstream (5xx, timeouts, transport errors)",
            (
                f"{_rate(outcomes, route + ',outcome!=' + chr(34) + 'ok' + chr(34), 'upstream')}"
                f" / {_rate(outcomes, route, 'upstream')}",
                "{{upstream}}",
            ),
            unit="percentunit",
        ),
        _series(
            "Latency by upstream (p50, p99)",
            (_quantile(0.5, "strangler_route_duration_seconds", route, "upstream"), "p50 {{upstream}}"),
            (_quantile(0.99, "strangler_route_duration_seconds", route, "upstream"), "p99 {{upstream}}"),
            unit="s",
        ),
        _series(
            "Fallbacks to the legacy upstream",
            (_rate("strangler_fallbacks_total", route, "from, to"), "{{from}} -> {{to}}"),
            unit="reqps",
        ),
        _series(
            "Breaker state (0 closed, 1 half-open, 2 open)",
            (f"max by (upstream) (strangler_breaker_state{{{route}}})", "{{upstream}}"),
        ),
        _series(
            "Shadow copies: mirrored, skipped, copy errors",
            (_rate("strangler_shadow_mirrored_total", route), "mirrored"),
            (_rate("strangler_shadow_skipped_total", route), "skipped"),
            (_rate("strangler_shadow_copy_errors_total", route), "copy errors"),
            unit="reqps",
        ),
        _series(
            "Shadow match rate (noise a pair's own second answers explain counts as a match)",
            (
                f"{_rate(COMPARED, route + ',outcome=~' + JUDGED.replace('|mismatched', ''))}"
                f" / {_rate(COMPARED, route + ',outcome=~' + JUDGED)}",
                "match",
            ),
            unit="percentunit",
        ),
        _series(
            "Shadow pairs compared by outcome",
            (_rate(COMPARED, route, "outcome"), "{{outcome}}"),
            unit="reqps",
        ),
    ]
    return g.Dashboard(
        title="Migration: route $route",
        uid="strangler-migration",
        tags=["strangler"],
        templating=g.Templating(list=[_variable("route", f"label_values({outcomes}, route)", "route")]),
        panels=_layout(panels),
        time=g.Time("now-1h", "now"),
    ).auto_panel_ids()


def red_dashboard() -> g.Dashboard:
    job = 'job="$job"'
    panels = [
        _series("Rate by view", (_rate("http_requests_total", job, "route"), "{{route}}"), unit="reqps"),
        _series(
            "Errors (5xx share)",
            (
                f"{_rate('http_requests_total', job + ',status=~' + chr(34) + '5..' + chr(34))}"
                f" / {_rate('http_requests_total', job)}",
                "5xx",
            ),
            unit="percentunit",
        ),
        _series(
            "Duration (p50, p99)",
            (_quantile(0.5, "http_request_duration_seconds", job, "route"), "p50 {{route}}"),
            (_quantile(0.99, "http_request_duration_seconds", job, "route"), "p99 {{route}}"),
            unit="s",
        ),
        _series("Up", (f"up{{{job}}}", "{{instance}}")),
    ]
    return g.Dashboard(
        title="RED: $job",
        uid="strangler-red",
        tags=["strangler"],
        templating=g.Templating(list=[_variable("job", "label_values(http_requests_total, job)", "service")]),
        panels=_layout(panels),
        time=g.Time("now-1h", "now"),
    ).auto_panel_ids()


DLQ_DEPTH = 'max by (queue) (rabbitmq_detailed_queue_messages{queue=~".+\\\\.dlq"})'


def async_dashboard() -> g.Dashboard:
    panels = [
        _series(
            "Sync lag (oldest unpublished outbox row)", ("max(strangler_sync_lag_seconds)", "lag"), unit="s"
        ),
        _series("Outbox rows pending", ("max(strangler_sync_outbox_pending)", "pending")),
        _series(
            "Events published by relay",
            (_rate("outbox_relay_published_total", by="relay"), "{{relay}}"),
            unit="ops",
        ),
        _series(
            "Consumed events by outcome",
            (_rate("consumer_events_total", by="consumer, outcome"), "{{consumer}} {{outcome}}"),
            unit="ops",
        ),
        _series("Dead-letter queues", (DLQ_DEPTH, "{{queue}}")),
        _series(
            "Sagas started and finished",
            (_rate("order_saga_started_total"), "started"),
            (_rate("order_saga_finished_total", by="outcome"), "{{outcome}}"),
            unit="ops",
        ),
        _series("Sagas stuck past their deadline", ("max(order_saga_stuck)", "stuck")),
        _series(
            "Saga duration (p95)",
            (_quantile(0.95, "order_saga_duration_seconds", "", "outcome"), "{{outcome}}"),
            unit="s",
        ),
    ]
    return g.Dashboard(
        title="Sync, sagas and dead letters",
        uid="strangler-async",
        tags=["strangler"],
        panels=_layout(panels),
        time=g.Time("now-1h", "now"),
    ).auto_panel_ids()


LOG_STREAM = '{compose_project="strangler"}'


def logs_dashboard() -> g.Dashboard:
    """Every line of one request across processes: the gateway's, the monolith's and each service's JSON log
    lines carry request_id and trace_id (one trace id follows the request through events too)."""
    by_request = f'{LOG_STREAM} | json | request_id="$request_id"'
    by_trace = f'{LOG_STREAM} | json | trace_id="$trace_id"'
    panels = [
        g.Logs(
            title="Lines of request $request_id (every process)",
            dataSource=LOKI,
            targets=[g.Target(expr=by_request, refId="A", datasource=LOKI)],
            showLabels=True,
            showTime=True,
            sortOrder="Ascending",
            enableLogDetails=True,
            gridPos=g.GridPos(h=12, w=24, x=0, y=0),
        ),
        g.Logs(
            title="Lines of trace $trace_id (requests, events, consumers)",
            dataSource=LOKI,
            targets=[g.Target(expr=by_trace, refId="A", datasource=LOKI)],
            showLabels=True,
            showTime=True,
            sortOrder="Ascending",
            enableLogDetails=True,
            gridPos=g.GridPos(h=12, w=24, x=0, y=12),
        ),
    ]
    textboxes = [
        g.Template(name=name, query="", type="textbox", label=label, default="")
        for name, label in (("request_id", "X-Request-ID"), ("trace_id", "trace id"))
    ]
    return g.Dashboard(
        title="Logs: one request",
        uid="strangler-logs",
        tags=["strangler"],
        templating=g.Templating(list=textboxes),
        panels=panels,
        time=g.Time("now-6h", "now"),
    ).auto_panel_ids()


DASHBOARDS = {
    "migration.json": migration_dashboard,
    "red.json": red_dashboard,
    "async.json": async_dashboard,
    "logs.json": logs_dashboard,
}


def dashboard_files() -> dict[str, str]:
    return {
        name: json.dumps(build().to_json_data(), cls=DashboardEncoder, indent=1, sort_keys=True) + "\n"
        for name, build in DASHBOARDS.items()
    }


def prometheus_queries(document: dict) -> list[str]:
    """Every Prometheus query of a dashboard's JSON (what tests/deploy checks against the code)."""
    return [
        target["expr"]
        for panel in document.get("panels", [])
        if panel.get("datasource") != LOKI
        for target in panel.get("targets", [])
        if target.get("expr")
    ]
