"""`make bench-rollback`: how fast the rollout controller rolls a regression back, and how often it rolls a
healthy candidate back.

- rollback_seconds_median: the 5xx drill with the flags file, `--runs` times: a route at 25% with about
  `--canary-rate` requests/s of canary traffic (4x that in all), then 5% of the candidate's answers become
  5xx; measured from the regression's start to the last request the gateway sent to the candidate.
- rollback_seconds_median_unleash: the same against a real Unleash server (`--unleash`, the server
  `make unleash-install` provides; null when not run).
- false_rollback_rate_real: `--real-healthy-runs` short rollouts (10,50,100 at `--real-step-time` a step)
  of a healthy candidate through the real gateway and controller, both upstreams answering with the same
  seeded noise (0.5% 5xx, latency 4 +- 3 ms), one seed per run; with its 95% upper bound (Clopper-Pearson).
- false_rollback_rate: `--healthy-runs` seeded healthy rollouts (1,5,25,50,100) through the real judge,
  policy and alpha split with a simulated gateway (control/rollout/simulation.py): the only way to count
  thousands of rollouts; the same under a harsher model (target worse by up to half the allowances) as
  false_rollback_rate_within_allowance.
Ends with one JSON line, also written to var/bench/rollback.json."""

from __future__ import annotations

import argparse
import os
import signal
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from bench.report import REPO_ROOT, elapsed_since, emit_json_line, median, run_facts
from bench.rollout_drill import ROUTE, catalog_traffic, running_drill
from control.rollout.simulation import false_rollback_rate
from control.rollout.stats import binomial_sf
from load.traffic import SuiteTraffic

HEALTHY_NOISE = {"error_rate": 0.005, "latency_ms": 4, "jitter_ms": 3}


@dataclass(frozen=True)
class Rollback:
    seconds: float  # from the regression's start to the last request the gateway sent to the candidate
    canary_rate: float  # requests/s the candidate got meanwhile
    total_rate: float  # requests/s through the gateway meanwhile


def one_rollback(drill, traffic: SuiteTraffic, seed: int) -> Rollback:
    drill.reset()
    drill.manage("rollout", "start", ROUTE, "--steps", "25,100", "--step-time", "300s")
    drill.wait_for(
        lambda s: s["owner"] and ("flag_write", 25) in [(e["kind"], e["percentage"]) for e in s["events"]],
        timeout=60,
        what="the 25% step",
    )
    time.sleep(4)  # the step's window is open and has data
    began = time.time()
    drill.target.knobs(error_rate=0.05, seed=seed)
    drill.wait_for(lambda s: s["state"] != "running", timeout=180, what="the rollback")
    time.sleep(3)
    after = traffic.since(began)
    to_target = [e.started for e in after if e.upstream == "product"]
    last = max(to_target) if to_target else began
    span = max(last - began, 1e-3)
    total = sum(1 for e in after if e.started <= last)
    return Rollback(round(last - began, 3), round(len(to_target) / span, 1), round(total / span, 1))


def healthy_runs(drill, runs: int, step_time: float, console: Console) -> list[str]:
    """Short healthy rollouts, started in-process by the `rollout start` service (a manage.py per run
    would cost more than the run); the controller process and the gateway are the real ones."""
    os.environ.update(drill.env)  # read once by the settings, below: this drill's databases and files
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "legacy_monolith.settings")
    import django

    django.setup()
    from control.rollout.services import rollout_start

    outcomes = []
    for run in range(runs):
        drill.reset()
        for toy in (drill.legacy, drill.target):
            toy.knobs(**HEALTHY_NOISE, seed=1000 + 2 * run + (toy is drill.target))
        rollout_start(route=ROUTE, steps="10,50,100", step_time=step_time, actor="bench-healthy")
        done = drill.wait_for(lambda s: s["state"] != "running", timeout=120, what="the healthy rollout")
        outcomes.append(done["state"])
        console.print(f"healthy run {run + 1}/{runs}: {done['state']}")
    for toy in (drill.legacy, drill.target):
        toy.knobs(error_rate=0, latency_ms=0, jitter_ms=0)
    return outcomes


def upper_bound(failures: int, runs: int, confidence: float = 0.95) -> float | None:
    """Clopper-Pearson one-sided upper bound of a rate seen `failures` times in `runs`."""
    if not runs:
        return None
    low, high = failures / runs, 1.0
    for _ in range(60):  # bisection: the p at which seeing <= failures has probability 1 - confidence
        mid = (low + high) / 2
        if 1 - binomial_sf(failures + 1, runs, mid) > 1 - confidence:
            low = mid
        else:
            high = mid
    return round(high, 4)


def drill_runs(
    runs: int, canary_rate: float, console: Console, tmp: Path, *, extra_env=None, healthy: int = 0, step=3.0
) -> tuple[list[Rollback], list[str]]:
    rollbacks: list[Rollback] = []
    outcomes: list[str] = []
    with running_drill(tmp, extra_env=extra_env) as drill:
        traffic = catalog_traffic(drill.gateway.url, canary_rate * 4, tmp / "load").start()
        try:
            for run in range(runs):
                rollback = one_rollback(drill, traffic, seed=100 + run)
                rollbacks.append(rollback)
                console.print(
                    f"run {run + 1}/{runs}: rolled back {rollback.seconds:.2f} s after the regression began "
                    f"({rollback.canary_rate:.0f} canary req/s of {rollback.total_rate:.0f})"
                )
            if healthy:
                outcomes = healthy_runs(drill, healthy, step, console)
        finally:
            traffic.stop()
    return rollbacks, outcomes


def stop_cleanly_on_signals() -> None:
    """SIGTERM, and SIGINT even when started in the background (where it arrives ignored), end the bench
    through KeyboardInterrupt, so every process and throwaway database it started is stopped and dropped."""

    def interrupt(*_: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
    signal.signal(signal.SIGINT, interrupt)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.rollback", description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--canary-rate", type=float, default=50.0)
    parser.add_argument("--healthy-runs", type=int, default=2000, help="simulated healthy rollouts")
    parser.add_argument(
        "--real-healthy-runs", type=int, default=30, help="healthy rollouts through real processes"
    )
    parser.add_argument("--real-step-time", type=float, default=3.0, help="their seconds per step")
    parser.add_argument(
        "--unleash", action="store_true", help="also run the drill against a real Unleash server"
    )
    args = parser.parse_args(argv)
    stop_cleanly_on_signals()
    console = Console(stderr=True)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="bench-rollback-") as tmp:
        flags_file, outcomes = drill_runs(
            args.runs,
            args.canary_rate,
            console,
            Path(tmp) / "file",
            healthy=args.real_healthy_runs,
            step=args.real_step_time,
        )
        unleash = None
        if args.unleash:
            from tests.flags.unleash_fixtures import start_unleash_server

            server = start_unleash_server(Path(tmp) / "unleash.log")
            try:
                unleash, _ = drill_runs(
                    args.runs, args.canary_rate, console, Path(tmp) / "unleash", extra_env=server.env()
                )
            finally:
                server.stop()
    rate, rollbacks = false_rollback_rate(args.healthy_runs, seed=20261207, rate=100, step_time=10)
    harsh, _ = false_rollback_rate(
        args.healthy_runs, seed=20261208, rate=100, step_time=10, within_allowance=True
    )
    real_rollbacks = outcomes.count("rolled_back")
    report = {
        "bench": "rollback",
        "rollback_seconds_median": median([r.seconds for r in flags_file]),
        "rollback_seconds": [r.seconds for r in flags_file],
        "rollback_seconds_median_unleash": median([r.seconds for r in unleash]) if unleash else None,
        "rollback_seconds_unleash": [r.seconds for r in unleash] if unleash else None,
        "canary_requests_per_s": args.canary_rate,
        "canary_requests_per_s_achieved_median": median(
            [r.canary_rate for r in flags_file + (unleash or [])]
        ),
        "requests_per_s_achieved_median": median([r.total_rate for r in flags_file + (unleash or [])]),
        "false_rollback_rate": rate,
        "false_rollbacks": rollbacks,
        "healthy_runs": args.healthy_runs,
        "false_rollback_rate_within_allowance": harsh,
        "false_rollback_rate_real": real_rollbacks / len(outcomes) if outcomes else None,
        "false_rollbacks_real": real_rollbacks,
        "healthy_runs_real": len(outcomes),
        "healthy_runs_real_promoted": outcomes.count("promoted"),
        "false_rollback_rate_real_upper_95": upper_bound(real_rollbacks, len(outcomes)),
        "goal": {"rollback_seconds": 10, "false_rollback_rate": 0.01},
        **run_facts(),
        **elapsed_since(started),
    }
    emit_json_line(report, REPO_ROOT / "var" / "bench" / "rollback.json")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
