"""The rollout controller against real processes (bench/rollout_drill.py): the gateway in front of two toy
upstreams, the stage-2 locust suite as client traffic (400 shoppers, one token each), `manage.py rollout
start|close` and `flags` commands, the controller process `manage.py rollout run`, the flags file and a
throwaway control database.

Size (bench/rollout_drill.DrillSize, ROLLOUT_DRILL_SIZE): `make test` runs `small` (80 requests/s, a
promotion through 10,50,100 at 4 s a step); `make drill-rollback` runs `full` (200 requests/s, so 50 of
them canary at 25%; 1,5,25,50,100 at 10 s a step). The assertions are the same at both sizes."""

import json
import time
from pathlib import Path

import pytest

from bench.rollout_drill import FLAG, ROUTE, catalog_traffic, drill_size, running_drill

pytestmark = pytest.mark.e2e

SIZE = drill_size()


@pytest.fixture(scope="module")
def drill(tmp_path_factory):
    with running_drill(tmp_path_factory.mktemp("rollout-drill")) as running:
        traffic = catalog_traffic(running.gateway.url, SIZE.rate, running.tmp / "load").start()
        running.traffic = traffic
        try:
            yield running
        finally:
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
        timeout=60,
        what=f"the {percentage}% step",
    )


def audit_entries(drill) -> list[dict]:
    return [json.loads(line) for line in Path(drill.env["FLAGS_AUDIT_LOG"]).read_text().splitlines()]


def test_a_healthy_candidate_is_promoted_step_by_step_to_100_percent(fresh):
    drill = fresh
    steps = [int(s) for s in SIZE.promote_steps.split(",")]
    drill.manage("rollout", "start", ROUTE, "--steps", SIZE.promote_steps, "--step-time", SIZE.step_time)
    started = drill.status()["id"]
    done = drill.wait_for(lambda s: s.get("state") != "running", timeout=180, what="the promotion")
    assert (done["id"], done["state"]) == (started, "promoted"), done
    assert drill.flag_percentage() == 100
    kinds = [(e["kind"], e["action"], e["percentage"]) for e in drill.status()["events"]]
    for judged in steps[:-1]:
        assert ("decision", "promote", judged) in kinds
    # the gateway picks the flag up on its next reload (a busy machine delays it): within seconds, a whole
    # window of canary traffic goes to the candidate alone
    seen: set[str] = set()
    for _ in range(10):
        since = time.time()
        time.sleep(1.5)
        seen = {e.upstream for e in drill.traffic.since(since)}
        if seen == {"product"}:
            break
    assert seen == {"product"}
    ours = [e for e in audit_entries(drill) if e["who"] == "rollout-controller"]
    writes = [e for e in ours if e["note"]["rollout"] == started]
    assert [e["action"] for e in writes] == [f"rollout {s}%" for s in steps]


def test_a_5xx_regression_at_25_percent_is_rolled_back_in_seconds_even_after_a_controller_kill(
    fresh, record_property
):
    drill = fresh
    drill.manage("rollout", "start", ROUTE, "--steps", "25,50,100", "--step-time", "120s")
    first = drill.ensure_controller()
    at_step(drill, 25)
    # kill -9 mid-rollout: a new controller takes the lease over and carries on
    owner = drill.status()["owner"]
    drill.kill_controller(first)
    drill.start_controller()
    carried = drill.wait_for(
        lambda s: s["owner"] and s["owner"] != owner and (s["last_verdict"] or {}).get("action") == "hold",
        timeout=60,
        what="a second controller",
    )
    assert carried["state"] == "running"
    assert carried["percentage"] == 25
    time.sleep(SIZE.window_data)  # the new window has data
    began = time.time()
    drill.target.knobs(error_rate=0.05, seed=11)
    rolled = drill.wait_for(lambda s: s["state"] != "running", timeout=60, what="the rollback")
    assert rolled["state"] == "rolled_back", rolled
    assert "error rate" in rolled["reason"]
    # the moment the gateway sent no more traffic to the candidate
    time.sleep(3)
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


def test_a_latency_regression_is_rolled_back_and_counted_on_the_controllers_metrics(fresh):
    drill = fresh
    drill.manage("rollout", "start", ROUTE, "--steps", "25,100", "--step-time", "120s")
    at_step(drill, 25)
    counted = drill.rollbacks_counted()  # the route's series is there at 0 before any rollback
    time.sleep(SIZE.window_data - 1)
    drill.target.knobs(latency_ms=50, jitter_ms=5, seed=3)
    rolled = drill.wait_for(lambda s: s["state"] != "running", timeout=60, what="the rollback")
    assert rolled["state"] == "rolled_back", rolled
    assert "p50 latency" in rolled["reason"]
    assert drill.rollbacks_counted() == counted + 1  # what the RolloutRolledBack alert fires on


def test_a_persons_flags_off_wins_and_pauses_the_rollout(fresh):
    drill = fresh
    drill.manage("rollout", "start", ROUTE, "--steps", "25,100", "--step-time", "120s")
    at_step(drill, 25)
    drill.flags_off()
    paused = drill.wait_for(lambda s: s["state"] == "paused", timeout=20, what="the pause")
    assert "changed outside the controller" in paused["reason"]
    time.sleep(1)
    assert drill.flag_percentage() == 0  # the controller did not write it back


def test_an_open_rollback_refuses_a_new_start_and_a_raise_one_line_per_gate_until_closed(fresh):
    drill = fresh
    drill.manage("rollout", "start", ROUTE, "--steps", "25,100", "--step-time", "120s")
    at_step(drill, 25)
    drill.target.knobs(error_rate=0.5, seed=5)
    drill.wait_for(lambda s: s["state"] == "rolled_back", timeout=60, what="the rollback")
    drill.target.knobs(error_rate=0)
    # the drill's gates file lists the route, so its gate open_rollback is evaluated
    refused = drill.manage("rollout", "start", ROUTE, "--steps", "25,100", check=False)
    assert refused.returncode == 1
    lines = refused.stderr.splitlines()
    assert lines[0] == f"rollout start: gate_refused: route {ROUTE}: refused by 1 gate:"
    assert lines[1].startswith("rollout start: gate_refused: open_rollback: rollout ")
    raised = drill.manage("flags", "rollout", FLAG, "10", check=False)
    assert raised.returncode == 1
    assert raised.stderr.splitlines()[1].startswith("flags rollout: gate_refused: open_rollback: ")
    forced = drill.manage(
        "flags", "rollout", FLAG, "10", "--force", "--reason", "drill: forced over the gate", check=False
    )
    assert forced.returncode == 0, forced.stderr
    entry = audit_entries(drill)[-1]
    assert entry["action"] == "rollout 10%"
    assert entry["note"]["forced"] is True
    assert entry["note"]["reason"] == "drill: forced over the gate"
    assert entry["note"]["failed_gates"][0].startswith("open_rollback: ")
    drill.manage("rollout", "close", ROUTE, "--reason", "candidate fixed")
    drill.manage("rollout", "start", ROUTE, "--steps", "25,100", "--step-time", "120s")
