import pytest
from prometheus_client.parser import text_string_to_metric_families

from chassis import metrics


def sample(client, name: str, **labels) -> float:
    text = client.get("/metrics").content.decode()
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return s.value
    return 0.0


def test_requests_are_counted_by_route_name_and_status_not_by_raw_path(client):
    labels = {"method": "GET", "route": "widget-detail", "status": "404"}
    before = sample(client, "http_requests_total", **labels)
    client.get("/widgets/7")
    client.get("/widgets/8")
    assert sample(client, "http_requests_total", **labels) == before + 2
    text = client.get("/metrics").content.decode()
    assert "/widgets/7" not in text


def test_unmatched_paths_share_one_series(client):
    before = sample(client, "http_requests_total", route="unmatched", status="404")
    client.get("/no/such/path/123")
    assert sample(client, "http_requests_total", route="unmatched", status="404") == before + 1


def test_latency_is_observed_per_route(client):
    before = sample(client, "http_request_duration_seconds_count", method="GET", route="healthz")
    client.get("/healthz")
    assert sample(client, "http_request_duration_seconds_count", method="GET", route="healthz") == before + 1


def test_a_service_declares_its_own_metrics_once_and_sees_them_on_the_endpoint(client):
    first = metrics.counter("chassis_test_widgets_total", "Widgets made", ["colour"])
    again = metrics.counter("chassis_test_widgets_total", "Widgets made", ["colour"])
    assert first is again
    first.labels("red").inc(3)
    metrics.gauge("chassis_test_queue_depth", "Queue depth").set(7)
    assert sample(client, "chassis_test_widgets_total", colour="red") >= 3
    assert sample(client, "chassis_test_queue_depth") == 7


def test_declaring_a_name_again_as_another_kind_is_refused():
    metrics.counter("chassis_test_kind_total", "A counter")
    with pytest.raises(ValueError, match="already declared as a Counter"):
        metrics.gauge("chassis_test_kind_total", "A gauge")
