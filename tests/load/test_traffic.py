"""A stage's locust suite as a drill's traffic (load/traffic.py), against a toy upstream
(bench/toy_upstream.py) directly: about the rate asked, every request's outcome readable while it runs, a
planted 5xx seen per request, the suite's statistics after the stop. The drills through the gateway:
tests/e2e/test_rollout_controller.py."""

import time

import pytest

from bench.rollout_drill import CATALOG_REQUESTS_PER_TASK, start_toy
from legacy_monolith.demo.processes import stop_process_group
from load.__main__ import LoadError
from load.traffic import SuiteTraffic


@pytest.fixture
def toy(tmp_path):
    upstream = start_toy("product", tmp_path / "toy.log")
    try:
        yield upstream
    finally:
        stop_process_group(upstream.process, 5)


def test_the_catalog_suite_runs_as_traffic_until_stopped_and_reports_each_request(toy, tmp_path):
    tokens = [f"Token user-{n}" for n in range(1, 21)]
    traffic = SuiteTraffic(stage="2", host=toy.url, rate=40, users=20, folder=tmp_path / "load",
                           tokens=tokens, requests_per_task=CATALOG_REQUESTS_PER_TASK)  # fmt: skip
    with traffic:
        time.sleep(4)
        healthy = time.time()
        time.sleep(2)
        toy.knobs(error_rate=1.0)
        planted = time.time()
        time.sleep(2)
        before = {e.status for e in traffic.since(healthy) if e.started < planted - 0.5}
        after = {e.status for e in traffic.since(planted + 0.5)}
    exchanges = traffic.exchanges()
    assert before == {200}
    assert after == {500}
    assert {e.name for e in exchanges} <= {"categories", "products page", "search"}  # catalog reads only
    assert {e.upstream for e in exchanges} == {"?"}  # no gateway in front: no X-Strangler-Upstream
    assert traffic.errors == 0
    span = max(e.started for e in exchanges) - min(e.started for e in exchanges)
    assert 15 < len(exchanges) / span < 80, len(exchanges) / span  # about 40 a second (a busy machine: less)
    counts = traffic.counts(since=planted + 0.5)
    assert counts
    assert all(key.endswith(" ? 500") for key in counts), counts
    assert traffic.result is not None  # locust's own statistics (its last CSV write may lag the stop by ~1 s)
    assert 0.8 * len(exchanges) <= traffic.result.requests <= len(exchanges)
    assert 0 < traffic.result.failures <= traffic.result.requests
    stopped = len(traffic.exchanges())
    time.sleep(1)
    assert len(traffic.exchanges()) == stopped  # stopped means no more requests


def test_traffic_without_its_users_is_refused(tmp_path):
    with pytest.raises(LoadError, match="needs its users"):
        SuiteTraffic(stage="2", host="http://127.0.0.1:9", rate=1, users=1, folder=tmp_path).start()
