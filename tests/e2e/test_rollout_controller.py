"""The rollout controller against real processes (bench/rollout_drill.py): the gateway in front of two toy
upstreams, client traffic of 400 users, `manage.py rollout start|status|close` and the controller
process `manage.py rollout run`, the flags file and a throwaway control database.

Sizes are small here (about 80 requests/s, steps of a few seconds); `make drill-rollback` and
`make bench-rollback` run the full ones (50 requests/s of canary traffic, several runs, medians)."""

import json
import os
import time
from pathlib import Path

import pytest

from bench.rollout_drill import FLAG, ROUTE, Traffic, running_drill

pytestmark = pytest.mark.e2e

RATE = float(os.environ.get("ROLLOUT_DRILL_RATE") or 80)  # requests/s in all (make drill-rollback: 200)


@pytest.fixture(scope="module")
def drill(tmp_path_factory):
    with running_drill(tmp_path_factory.mktemp("rollout-drill")) as running:
        traffic = Traffic(running.gateway.url, RATE).start()
        running.traffic = traffic
        yield running
        traffic.stop()


@pytest.fixture
def fresh(drill):
    drill.reset()
    return drill


def at_step(drill, percentage: int) -> dict:
    """Wait until the controller wrote the step's percentage (and holds the lease)."""
    return drill.wait_for(
        lambda s: (
            s["owner"] and ("flag_write", percentage) in [(e["kind"], e["percentage"]) for e in s["events"]]
        ),
        timeout=30,
        what=f"the {percentage}% step",
    )


def audit_entries(drill) -> list[dict]:
    return [json.loads(line) for line in Path(drill.env["FLAGS_AUDIT_LOG"]).read_text().splitlines()]


def test_a_healthy_candidate_is_promoted_step_by_step_to_100_percent(fresh):
    drill = fresh
    drill.manage("rollout", "start", ROUTE, "--steps", "10,50,100", "--step-time", "4s")
    drill.start_controller()
    done = drill.wait_for(lambda s: s.get("state") != "running", timeout=90, what="the promotion")
    assert done["state"] == "promoted", done
    assert drill.flag_percentage() == 100
    kinds = [(e["kind"], e["action"], e["percentage"]) for e in drill.status()["events"]]
    assert ("decision", "promote", 10) in kinds
    assert ("decision", "promote", 50) in kinds
    since = time.time()
    time.sleep(1.5)
    assert {e.upstream for e in drill.traffic.since(since)} == {"product"}
    writes = [e for e in audit_entries(drill) if e["who"] == "rollout-controller"]
    assert [e["action"] for e in writes] == ["rollout 10%", "rollout 50%", "rollout 100%"]
    assert writes[1]["note"]["rollout"] == done["id"]


def test_a_5xx_regression_at_25_percent_is_rolled_back_in_seconds_even_after_a_controller_kill(
    fresh, record_property
):
    drill = fresh
    drill.manage("rollout", "start", ROUTE, "--steps", "25,50,100", "--step-time", "120s")
    first = drill.start_controller()
    at_step(drill, 25)
    # kill -9 mid-rollout: a new controller takes the lease over and carries on
    owner = drill.status()["owner"]
    drill.kill_controller(first)
    drill.start_controller()
    carried = drill.wait_for(
        lambda s: s["owner"] and s["owner"] != owner and (s["last_verdict"] or {}).get("action") == "hold",
        timeout=30,
        what="a second controller",
    )
    assert carried["state"] == "running"
    assert carried["percentage"] == 25
    time.sleep(3)  # the new window has data
    began = time.time()
    drill.target.knobs(error_rate=0.05, seed=11)
    rolled = drill.wait_for(lambda s: s["state"] != "running", timeout=60, what="the rollback")
    assert rolled["state"] == "rolled_back", rolled
    assert "error rate" in rolled["reason"]
    # the moment the gateway sent no more traffic to the candidate
    deadline = time.time() + 5
    while time.time() < deadline:
        time.sleep(0.5)
    after = drill.traffic.since(began)
    last_to_target = max((e.started for e in after if e.upstream == "product"), default=began)
    seconds = last_to_target - began
    record_property("rollback_seconds", round(seconds, 2))
    print(f"rollback took {seconds:.2f} s from the start of the regression to 100% legacy")
    assert seconds < 30
    assert drill.flag_percentage() == 0
    rollback = [e for e in audit_entries(drill) if e["action"] == "off" and e["who"] == "rollout-controller"]
    assert rollback
    assert rollback[-1]["note"]["decision"] == "rollback"
    assert rollback[-1]["note"]["evidence"]["error_rate"]["target"] > 0.01


def test_a_latency_regression_is_rolled_back(fresh):
    drill = fresh
    drill.manage("rollout", "start", ROUTE, "--steps", "25,100", "--step-time", "120s")
    drill.start_controller()
    at_step(drill, 25)
    time.sleep(2)
    drill.target.knobs(latency_ms=50, jitter_ms=5, seed=3)
    rolled = drill.wait_for(lambda s: s["state"] != "running", timeout=60, what="the rollback")
    assert rolled["state"] == "rolled_back", rolled
    assert "p50 latency" in rolled["reason"]


def test_a_persons_flags_off_wins_and_pauses_the_rollout(fresh):
    drill = fresh
    drill.manage("rollout", "start", ROUTE, "--steps", "25,100", "--step-time", "120s")
    drill.start_controller()
    at_step(drill, 25)
    drill.flags_off()
    paused = drill.wait_for(lambda s: s["state"] == "paused", timeout=20, what="the pause")
    assert "changed outside the controller" in paused["reason"]
    time.sleep(1)
    assert drill.flag_percentage() == 0  # the controller did not write it back


def test_an_open_rollback_refuses_a_new_start_until_closed(fresh):
    drill = fresh
    drill.manage("rollout", "start", ROUTE, "--steps", "25,100", "--step-time", "120s")
    drill.start_controller()
    at_step(drill, 25)
    drill.target.knobs(error_rate=0.5, seed=5)
    drill.wait_for(lambda s: s["state"] == "rolled_back", timeout=60, what="the rollback")
    drill.target.knobs(error_rate=0)
    # gates are evaluated for routes listed in the gates file: list this one (open_rollback only)
    gates = drill.tmp / "gates.yaml"
    gates.write_text(f"routes:\n  {ROUTE}: {{}}\n")
    drill.env["ROLLOUT_GATES_FILE"] = str(gates)
    refused = drill.manage("rollout", "start", ROUTE, "--steps", "25,100", check=False)
    assert refused.returncode == 1
    assert "open_rollback" in refused.stdout
    raised = drill.manage("flags", "rollout", FLAG, "10", check=False)
    assert raised.returncode != 0
    assert "open_rollback" in raised.stderr
    drill.manage("rollout", "close", ROUTE, "--reason", "candidate fixed")
    drill.manage("rollout", "start", ROUTE, "--steps", "25,100", "--step-time", "120s")
    drill.manage("rollout", "abort", ROUTE, "--reason", "done with the test")
    del drill.env["ROLLOUT_GATES_FILE"]
