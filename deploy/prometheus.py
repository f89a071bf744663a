"""Prometheus for the compose profile: the scrape configuration (every process of the registry that serves
metrics, job = process name) and the alert rules with their promtool unit tests, generated together.

Each alert names what it watches; one whose metric the code does not export yet (deploy/metrics_catalog.py)
is left out of alerts.yml, listed in the file's header, and joins by itself once the metric lands
(tests/deploy fails until `make deploy-gen` is run then).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from deploy import metrics_catalog
from deploy import topology as t

SCRAPE_INTERVAL = "10s"


def scrape_config() -> dict[str, Any]:
    jobs: list[dict[str, Any]] = []
    for placed in t.all_processes():
        process = placed.process
        if "compose" not in process.targets or process.kind in ("job", "cron"):
            continue
        port = process.metrics_port or process.internal_port
        if not port:
            continue
        if process.name == "rabbitmq":  # per-queue depths (the DLQ alert), not only the aggregate
            jobs.append({
                "job_name": "rabbitmq",
                "metrics_path": "/metrics/detailed",
                "params": {"family": ["queue_coarse_metrics"]},
                "static_configs": [{"targets": [f"rabbitmq:{port}"]}],
            })  # fmt: skip
            continue
        jobs.append(
            {
                "job_name": process.name,
                "metrics_path": process.metrics_path,
                "static_configs": [
                    {"targets": [f"{process.name}:{port}"], "labels": {"component": placed.component}}
                ],
            }
        )
    return {
        "global": {"scrape_interval": SCRAPE_INTERVAL, "evaluation_interval": SCRAPE_INTERVAL},
        "rule_files": ["/etc/prometheus/alerts.yml"],
        "scrape_configs": jobs,
    }


@dataclass(frozen=True)
class Alert:
    name: str
    expr: str
    summary: str
    for_: str = "5m"
    severity: str = "page"
    # promtool unit test: input series (name{labels} -> values) and the alert labels expected at eval_time
    series: dict[str, str] = field(default_factory=dict)
    eval_time: str = "15m"
    expected: list[dict[str, str]] = field(default_factory=list)
    summary_expected: str = ""  # the summary as promtool renders it for `expected`

    def rule(self) -> dict[str, Any]:
        return {
            "alert": self.name,
            "expr": self.expr,
            "for": self.for_,
            "labels": {"severity": self.severity},
            "annotations": {"summary": self.summary},
        }


ERROR_RATIO = (
    'sum by (route, upstream) (rate(strangler_route_outcomes_total{{outcome!="ok"}}[{w}]{o}))'
    " / sum by (route, upstream) (rate(strangler_route_outcomes_total[{w}]{o}))"
)


COMPARED = "strangler_shadow_pairs_compared_total"  # shadow/metrics.py
MATCH_RATIO = (
    f'(sum by (route) (rate({COMPARED}{{{{outcome=~"matched|noise"}}}}[{{w}}]{{o}}))'
    f' / sum by (route) (rate({COMPARED}{{{{outcome=~"matched|noise|mismatched"}}}}[{{w}}]{{o}})))'
)


def _outcomes(upstream: str, outcome: str) -> str:
    return f'strangler_route_outcomes_total{{route="catalog.read",upstream="{upstream}",outcome="{outcome}"}}'


ALERTS: tuple[Alert, ...] = (
    Alert(
        "RouteErrorRateAboveBaseline",
        # the baseline: the same route and upstream over the previous day, the last hour left out
        f"({ERROR_RATIO.format(w='5m', o='')})"
        f" > clamp_min(3 * ({ERROR_RATIO.format(w='1d', o=' offset 1h')}), 0.01)"
        " and sum by (route, upstream) (rate(strangler_route_outcomes_total[5m])) > 0.1",
        "{{ $labels.route }} on {{ $labels.upstream }}: error rate {{ $value | humanizePercentage }}, "
        "over 3x its baseline",
        series={
            _outcomes("product", "ok"): "0+600x130",
            _outcomes("product", "5xx"): "0+0x100 120+120x29",  # 1 in 6 fail from minute 101
            _outcomes("legacy", "ok"): "0+600x130",
        },
        eval_time="120m",
        expected=[{"route": "catalog.read", "upstream": "product", "severity": "page"}],
        summary_expected="catalog.read on product: error rate 16.67%, over 3x its baseline",
    ),
    Alert(
        "BreakerOpen",
        "max by (route, upstream) (strangler_breaker_state) == 2",
        "the breaker of {{ $labels.route }} towards {{ $labels.upstream }} is open",
        for_="1m",
        series={'strangler_breaker_state{route="catalog.read",upstream="product"}': "0 0 2x10"},
        eval_time="5m",
        expected=[{"route": "catalog.read", "upstream": "product", "severity": "page"}],
        summary_expected="the breaker of catalog.read towards product is open",
    ),
    Alert(
        "DeadLetterQueueNotEmpty",
        'max by (queue) (rabbitmq_detailed_queue_messages{queue=~".+\\\\.dlq"}) > 0',
        "{{ $value }} messages wait in {{ $labels.queue }}: `python -m extracted.<service> events dlq list`",
        for_="5m",
        severity="ticket",
        series={
            'rabbitmq_detailed_queue_messages{queue="product_service.stock.dlq"}': "0 1x20",
            'rabbitmq_detailed_queue_messages{queue="product_service.stock"}': "5x20",
        },
        eval_time="10m",
        expected=[{"queue": "product_service.stock.dlq", "severity": "ticket"}],
        summary_expected="1 messages wait in product_service.stock.dlq: "
        "`python -m extracted.<service> events dlq list`",
    ),
    Alert(
        "SyncLagHigh",
        "max(strangler_sync_lag_seconds) > 60",
        "the monolith's outbox relay is {{ $value | humanizeDuration }} behind",
        series={"strangler_sync_lag_seconds": "1 2 90x20"},
        eval_time="10m",
        expected=[{"severity": "page"}],
        summary_expected="the monolith's outbox relay is 1m 30s behind",
    ),
    Alert(
        "SagaStuck",
        "max(order_saga_stuck) > 0",
        "{{ $value }} checkout sagas are past their deadline: `python -m extracted.order_service sagas list`",
        series={"order_saga_stuck": "0 0 3x20"},
        eval_time="10m",
        expected=[{"severity": "page"}],
        summary_expected="3 checkout sagas are past their deadline: "
        "`python -m extracted.order_service sagas list`",
    ),
    Alert(
        "ShadowMatchRateFalling",
        # the last 15 minutes against the route's previous day: down by more than a point, on enough pairs
        f"{MATCH_RATIO.format(w='15m', o='')} < {MATCH_RATIO.format(w='1d', o=' offset 15m')} - 0.01"
        f' and sum by (route) (rate({COMPARED}{{outcome=~"matched|noise|mismatched"}}[15m])) > 0.05',
        "shadow match of {{ $labels.route }} fell to {{ $value | humanizePercentage }}",
        for_="10m",
        series={
            f'{COMPARED}{{route="catalog.read",outcome="matched"}}': "0+60x130",
            f'{COMPARED}{{route="catalog.read",outcome="mismatched"}}': "0x100 6+6x30",  # from minute 101
        },
        eval_time="130m",
        expected=[{"route": "catalog.read", "severity": "page"}],
        summary_expected="shadow match of catalog.read fell to 90.91%",
    ),
    Alert(
        "RolloutRolledBack",
        "increase(strangler_rollout_rollbacks_total[15m]) > 0",
        "the rollout controller rolled {{ $labels.route }} back",
        for_="0m",
        severity="ticket",
        series={'strangler_rollout_rollbacks_total{route="catalog.read"}': "0 0 1x10"},
        eval_time="5m",
        expected=[{"route": "catalog.read", "severity": "ticket"}],
        summary_expected="the rollout controller rolled catalog.read back",
    ),
)


def active_alerts() -> tuple[list[Alert], list[tuple[Alert, set[str]]]]:
    """(alerts whose metrics the code exports, [(alert, missing metrics)] left out for now)."""
    active, waiting = [], []
    for alert in ALERTS:
        gone = metrics_catalog.missing(alert.expr)
        (waiting.append((alert, gone)) if gone else active.append(alert))
    return active, waiting


def alerts_header() -> str:
    _, waiting = active_alerts()
    lines = ["# GENERATED by `make deploy-gen` from deploy/prometheus.py: edit ALERTS there.\n"]
    for alert, gone in waiting:
        lines.append(f"# not yet: {alert.name} (waits for {', '.join(sorted(gone))} to be exported)\n")
    return "".join(lines)


def alert_rules() -> dict[str, Any]:
    active, _ = active_alerts()
    return {"groups": [{"name": "strangler", "rules": [a.rule() for a in active]}]}


def alert_tests() -> dict[str, Any]:
    active, _ = active_alerts()
    tests = []
    for alert in active:
        tests.append(
            {
                "interval": "1m",
                "input_series": [{"series": s, "values": v} for s, v in alert.series.items()],
                "alert_rule_test": [
                    {
                        "eval_time": alert.eval_time,
                        "alertname": alert.name,
                        "exp_alerts": [
                            {"exp_labels": labels, "exp_annotations": {"summary": alert.summary_expected}}
                            for labels in alert.expected
                        ],
                    }
                ],
            }
        )
    return {"rule_files": ["alerts.yml"], "evaluation_interval": "1m", "tests": tests}
