"""Measure what the gateway pays per request and how fast a flag change lands:
`python -m flags.measure` (flags file in a temp dir), plus the Unleash server named by UNLEASH_URL,
UNLEASH_CLIENT_TOKEN and UNLEASH_ADMIN_TOKEN when `--server` is given. Ends with one JSON line."""

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

from flags.config import FlagsConfig
from flags.context import FlagContext
from flags.facade import Flags
from flags.flagsfile import dump_features
from flags.store import open_store
from kernel.files import write_atomically

FLAG = "route.catalog.read"  # on for 50% of users, by userId: what a rollout costs to evaluate
TOGGLED = "route.auth.login"  # switched on and off to time how fast a change lands


def cost_per_call_us(flags: Flags, name: str, context, calls: int, rounds: int) -> float:
    """Median over `rounds` of the mean cost of `calls` evaluations, in microseconds."""
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(calls):
            flags.is_enabled(name, context)
        samples.append((time.perf_counter() - start) / calls * 1e6)
    return statistics.median(samples)


def change_latencies(flags: Flags, store, name: str, toggles: int) -> list[float]:
    """Seconds from a command's return to the facade answering the new way, for each toggle."""
    context = FlagContext(user_id="42")
    latencies = []
    for i in range(toggles):
        enabled = i % 2 == 0
        store.set_enabled(name, enabled)
        start = time.monotonic()
        while flags.is_enabled(name, context) != enabled:
            if time.monotonic() - start > 10:
                raise SystemExit(f"flag change not seen within 10 s ({name})")
            time.sleep(0.002)
        latencies.append(time.monotonic() - start)
        time.sleep(random.uniform(0.05, 1.05))  # land the next change anywhere in the poll cycle
    return latencies


def summary(latencies: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(statistics.median(latencies) * 1000, 1),
        "max_ms": round(max(latencies) * 1000, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m flags.measure", description=__doc__)
    parser.add_argument("--calls", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--toggles", type=int, default=20)
    parser.add_argument("--server", action="store_true", help="also measure against UNLEASH_URL")
    args = parser.parse_args(argv)
    figures: dict[str, object] = {}

    with tempfile.TemporaryDirectory() as tmp:
        config = FlagsConfig(flags_file=Path(tmp) / "flags.json", audit_log=Path(tmp) / "audit.log")
        rollout = {"rollout": "50", "stickiness": "userId", "groupId": FLAG}
        write_atomically(
            config.flags_file,
            dump_features(
                {
                    "version": 2,
                    "features": [
                        {
                            "name": FLAG,
                            "enabled": True,
                            "strategies": [
                                {"name": "flexibleRollout", "parameters": rollout, "constraints": []}
                            ],
                        },
                        {"name": TOGGLED, "enabled": False, "strategies": [{"name": "default"}]},
                    ],
                }
            ),
        )
        with Flags(config) as flags:
            context = FlagContext(user_id="42", session_id="s-1", remote_address="10.0.0.1")
            figures["file_is_enabled_us"] = round(
                cost_per_call_us(flags, FLAG, context, args.calls, args.rounds), 1
            )
            figures["file_is_enabled_dict_context_us"] = round(
                cost_per_call_us(flags, FLAG, {"userId": "42"}, args.calls, args.rounds), 1
            )
            figures["file_unknown_flag_us"] = round(
                cost_per_call_us(flags, "route.nowhere", context, args.calls, args.rounds), 1
            )
            latencies = change_latencies(flags, open_store(config), TOGGLED, args.toggles)
            figures["file_change_visible"] = summary(latencies)

    if args.server:
        config = FlagsConfig.from_env()
        if not config.uses_server:
            parser.error("--server needs UNLEASH_URL, UNLEASH_CLIENT_TOKEN and UNLEASH_ADMIN_TOKEN")
        store = open_store(config)
        name = f"route.measure.{uuid.uuid4().hex[:8]}"
        feature = {"name": name, "enabled": False, "strategies": [{"name": "default", "parameters": {}}]}
        store.import_features({"version": 2, "features": [feature]})
        with Flags(config) as flags:
            while name not in flags.known_flags():
                time.sleep(0.05)
            context = FlagContext(user_id="42")
            figures["server_is_enabled_us"] = round(
                cost_per_call_us(flags, name, context, args.calls, args.rounds), 1
            )
            figures["server_refresh_interval_s"] = config.refresh_interval
            figures["server_change_visible"] = summary(change_latencies(flags, store, name, args.toggles))

    for key, value in figures.items():
        print(f"{key:34} {value}")
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
