"""The monolith's /metrics: the ACL catalog client's counters, scrapeable like every service's."""

import acl_adapters.catalog.client  # noqa: F401  (declares the client's metrics, as the catalog views do)


def test_metrics_lists_the_catalog_clients_calls_fallbacks_and_breaker_state(client):
    response = client.get("/metrics")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    body = response.content.decode()
    for name in ("acl_catalog_calls_total", "acl_catalog_fallbacks_total", "acl_catalog_breaker_state"):
        assert f"# TYPE {name.removesuffix('_total')}" in body
