"""Prometheus, alerts, Grafana and Loki provisioning: every query of every alert and panel parses as PromQL
and names a metric the code really exports; promtool accepts the configuration and the rules and passes the
rules' unit tests; the log view filters on the fields the processes really log."""

import json
import logging
from pathlib import Path

import pytest
import yaml

from deploy import dashboards, metrics_catalog, prometheus, validate
from deploy import topology as t

ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS = {p.name: json.loads(p.read_text()) for p in (ROOT / "deploy/grafana/dashboards").glob("*.json")}
ALERTS = yaml.safe_load((ROOT / "deploy/prometheus/alerts.yml").read_text())
SCRAPE = yaml.safe_load((ROOT / "deploy/prometheus/prometheus.yml").read_text())


def test_the_catalogue_reads_the_metrics_the_code_declares():
    exported = metrics_catalog.exported()
    # prometheus_client (gateway), the chassis helpers (services), a histogram's series
    assert {"strangler_requests_total", "http_requests_total", "order_saga_stuck"} <= exported
    assert {"strangler_route_duration_seconds_bucket", "http_request_duration_seconds_count"} <= exported
    assert "strangler_requests" not in exported  # a counter is stored with _total
    assert metrics_catalog.missing('sum(rate(no_such_metric_total{a="b"}[5m])) / up') == {
        "no_such_metric_total"
    }


def test_a_panel_or_alert_whose_metric_is_not_exported_waits():
    assert dashboards._series("x", ("rate(not_exported_yet_total[5m])", "")) is None
    assert dashboards._series("x", ("rate(http_requests_total[$__rate_interval])", "")) is not None
    active, waiting = prometheus.active_alerts()
    expected = {
        "RouteErrorRateAboveBaseline",
        "BreakerOpen",
        "DeadLetterQueueNotEmpty",
        "SyncLagHigh",
        "SagaStuck",
    }
    assert {a.name for a in active} >= expected
    for alert, gone in waiting:
        assert gone, alert.name
        assert not gone & metrics_catalog.exported(), alert.name
        assert alert.name in (ROOT / "deploy/prometheus/alerts.yml").read_text()  # listed as "not yet"


@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_every_panel_query_names_only_metrics_the_code_exports(name):
    queries = dashboards.prometheus_queries(DASHBOARDS[name])
    if name != "logs.json":
        assert queries
    for expr in queries:
        assert metrics_catalog.metric_names(expr), expr
        assert not metrics_catalog.missing(expr), expr


def test_every_alert_names_only_metrics_the_code_exports():
    rules = ALERTS["groups"][0]["rules"]
    assert len(rules) >= 5
    for rule in rules:
        assert not metrics_catalog.missing(rule["expr"]), rule["alert"]


def test_promtool_accepts_the_config_and_the_rules_and_the_rules_pass_their_unit_tests():
    if not validate.PROMTOOL.exists():
        pytest.fail("promtool is missing: make promtool (make test installs it)")
    report = validate.validate_prometheus()
    assert report.ok, report.problems
    assert len(report.checked) == 3


def test_prometheus_scrapes_every_process_that_serves_metrics_on_the_port_it_serves_them():
    jobs = {job["job_name"]: job for job in SCRAPE["scrape_configs"]}
    for placed in t.all_processes():
        process = placed.process
        port = process.metrics_port or process.internal_port
        if port and "compose" in process.targets and process.kind not in ("job", "cron"):
            assert jobs[process.name]["static_configs"][0]["targets"] == [f"{process.name}:{port}"]
    assert {"gateway", "monolith", "product-service", "sync-products-follow", "rabbitmq"} <= set(jobs)
    assert jobs["rabbitmq"]["params"] == {"family": ["queue_coarse_metrics"]}


def test_the_dashboards_use_the_provisioned_data_sources():
    provisioned = yaml.safe_load(
        (ROOT / "deploy/grafana/provisioning/datasources/datasources.yaml").read_text()
    )
    names = {source["name"] for source in provisioned["datasources"]}
    used = {panel["datasource"] for d in DASHBOARDS.values() for panel in d["panels"]}
    assert used <= names
    assert {d["uid"] for d in DASHBOARDS.values()} >= {
        "strangler-migration",
        "strangler-red",
        "strangler-logs",
    }


def test_the_log_view_finds_a_request_by_the_fields_every_process_logs():
    """The JSON lines the chassis logs carry request_id and trace_id as top-level fields: what the Loki
    query of the logs dashboard filters on, and what Alloy's pipeline reads."""
    from pythonjsonlogger.json import JsonFormatter

    from chassis.logging import RequestIdFilter, json_logging

    spec = dict(json_logging("INFO", static_fields={"service": "probe"})["formatters"]["json"])
    spec.pop("()")
    record = logging.LogRecord("probe", logging.INFO, __file__, 1, "hello", None, None)
    record.request_id, record.trace_id = "req-1", "a" * 32
    RequestIdFilter().filter(record)
    line = json.loads(JsonFormatter(**spec).format(record))
    assert (line["request_id"], line["trace_id"], line["level"], line["service"]) == (
        "req-1", "a" * 32, "INFO", "probe",
    )  # fmt: skip
    logs = DASHBOARDS["logs.json"]
    exprs = [t["expr"] for panel in logs["panels"] for t in panel["targets"]]
    assert any('| json | request_id="$request_id"' in e for e in exprs)
    assert any('| json | trace_id="$trace_id"' in e for e in exprs)
    assert {v["name"] for v in logs["templating"]["list"]} == {"request_id", "trace_id"}
    alloy = (ROOT / "deploy/alloy/config.alloy").read_text()
    assert 'level = "level"' in alloy
    assert "com.docker.compose.project=strangler" in alloy


def test_compose_runs_the_observability_stack_with_its_provisioning():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    assert {"prometheus", "grafana", "loki", "alloy"} <= set(compose)
    for service in ("prometheus", "grafana", "loki", "alloy"):
        for volume in compose[service].get("volumes", []):
            source = volume.split(":")[0]
            assert (
                source.startswith(("/var/run/docker.sock", "./"))
                or source in yaml.safe_load((ROOT / "docker-compose.yml").read_text())["volumes"]
            ), volume
            if source.startswith("./"):
                assert (ROOT / source).exists(), source
