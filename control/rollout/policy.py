"""The rollout policy file (ROLLOUT_POLICY_FILE, default control/rollout/policy.yaml): the judge's
thresholds, with defaults, overridden per route. Validated whole at start, problems as `file:line: ...`."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path

import yaml

from control.routes_file import RouteInfo, load_route_infos
from control.yamlfile import NodeReader, compose

DEFAULT_POLICY_FILE = Path(__file__).resolve().parent / "policy.yaml"


@dataclass(frozen=True)
class SagaPolicy:
    """Saga outcomes as stage evidence (control/rollout/sagas.py), for the orders and payments stages:
    max_compensated: the share of the window's finished sagas that may end compensated (a declined card or
    the last unit sold is a compensation too) before a significant excess counts; max_stuck: new sagas
    stuck past their deadline the window tolerates; min_sagas: finished sagas a step's window needs before
    it can be promoted (0: promote on the gateway's figures alone)."""

    max_compensated: float = 0.2
    max_stuck: int = 0
    min_sagas: int = 0


@dataclass(frozen=True)
class JudgePolicy:
    """alpha: the false-rollback budget of one whole rollout, split evenly over every look of every
    judged step and both tests (a union bound: healthy rollouts are rolled back at most this often).
    min_requests: requests each side needs in a step's window before the step can be promoted.
    settle: seconds after a flag write before the window opens (the change reaches every gateway).
    max_error_increase: the target's error rate may exceed legacy's by this much (absolute) before a
    significant difference counts. max_p50_increase / max_p50_increase_ratio: the same for the median
    latency (seconds, and relative to legacy's median; the larger allowance applies)."""

    alpha: float = 0.01
    min_requests: int = 50
    settle: float = 2.0
    max_error_increase: float = 0.01
    max_p50_increase: float = 0.020
    max_p50_increase_ratio: float = 0.2
    saga: SagaPolicy | None = None

    @property
    def tests(self) -> int:
        """Statistical tests per look, over which alpha is split: error rate and latency, plus the
        compensation rate when saga outcomes are evidence."""
        return 2 + (self.saga is not None)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Policy:
    source: str
    defaults: JudgePolicy
    routes: dict[str, JudgePolicy]
    flags: dict[str, JudgePolicy] = dataclasses.field(default_factory=dict)  # service-read flags (saga)

    def for_route(self, route: str) -> JudgePolicy:
        """The policy of a route id, or of a service-read flag the rollout is named after."""
        return self.routes.get(route) or self.flags.get(route) or self.defaults

    def target(self, name: str, routes: dict[str, RouteInfo]) -> RouteInfo | None:
        """What `rollout start NAME` rolls out: a route of the route table, or a flag listed under `flags:`
        (read by a service per request, not routed by the gateway: the payments stage's
        route.payments.charge, which the Order service reads per order)."""
        if name in routes:
            return routes[name]
        if name in self.flags:
            return RouteInfo(id=name, flag=name, legacy=None, target=None, mode="service")
        return None

    def rollable(self, info: RouteInfo) -> bool:
        """The controller can drive it: a route whose flag moves its traffic from legacy to a target at the
        gateway, or a service-read flag of `flags:` (judged by its saga outcomes alone)."""
        return info.can_roll_out or (info.mode == "service" and info.id in self.flags)


_TOP = frozenset({"defaults", "routes", "flags"})
_KEYS = frozenset({"alpha", "min_requests", "settle", "error_rate", "latency", "saga"})
_SAGA_KEYS = frozenset({"max_compensated", "max_stuck", "min_sagas"})


def _read_judge(reader: NodeReader, node: yaml.Node, what: str, base: JudgePolicy) -> JudgePolicy:
    fields = reader.mapping(node, what, _KEYS)
    values: dict = {}
    if "alpha" in fields:
        values["alpha"] = reader.number(fields["alpha"], f"{what}.alpha", low=1e-9, high=0.5)
    if "min_requests" in fields:
        values["min_requests"] = reader.number(
            fields["min_requests"], f"{what}.min_requests", low=1, integer=True
        )
    if "settle" in fields:
        values["settle"] = reader.duration(fields["settle"], f"{what}.settle")
    if "error_rate" in fields:
        rate = reader.mapping(fields["error_rate"], f"{what}.error_rate", frozenset({"max_increase"}))
        if "max_increase" in rate:
            values["max_error_increase"] = reader.number(
                rate["max_increase"], f"{what}.error_rate.max_increase", low=0, high=1
            )
    if "latency" in fields:
        latency = reader.mapping(
            fields["latency"], f"{what}.latency", frozenset({"max_p50_increase", "max_p50_increase_ratio"})
        )
        if "max_p50_increase" in latency:
            values["max_p50_increase"] = reader.duration(
                latency["max_p50_increase"], f"{what}.latency.max_p50_increase"
            )
        if "max_p50_increase_ratio" in latency:
            values["max_p50_increase_ratio"] = reader.number(
                latency["max_p50_increase_ratio"], f"{what}.latency.max_p50_increase_ratio", low=0
            )
    if "saga" in fields:
        values["saga"] = _read_saga(reader, fields["saga"], f"{what}.saga", base.saga or SagaPolicy())
    return dataclasses.replace(base, **{k: v for k, v in values.items() if v is not None})


def _read_saga(reader: NodeReader, node: yaml.Node, what: str, base: SagaPolicy) -> SagaPolicy:
    fields = reader.mapping(node, what, _SAGA_KEYS)
    values = {
        "max_compensated": reader.number(fields["max_compensated"], f"{what}.max_compensated", low=0, high=1)
        if "max_compensated" in fields
        else None,
        "max_stuck": reader.number(fields["max_stuck"], f"{what}.max_stuck", low=0, integer=True)
        if "max_stuck" in fields
        else None,
        "min_sagas": reader.number(fields["min_sagas"], f"{what}.min_sagas", low=0, integer=True)
        if "min_sagas" in fields
        else None,
    }
    return dataclasses.replace(base, **{k: v for k, v in values.items() if v is not None})


def policy_path() -> Path:
    return Path(os.environ.get("ROLLOUT_POLICY_FILE") or DEFAULT_POLICY_FILE)


def load_policy(path: Path | None = None, routes: dict[str, RouteInfo] | None = None) -> Policy:
    """Parse and check the policy file; raises FileProblems listing every problem with its line."""
    path = path or policy_path()
    routes = load_route_infos() if routes is None else routes
    root = compose(path)
    reader = NodeReader(str(path))
    top = reader.mapping(root, "the policy file", _TOP)
    defaults = _read_judge(reader, top["defaults"], "defaults", JudgePolicy()) if "defaults" in top else None
    defaults = defaults or JudgePolicy()
    per_route: dict[str, JudgePolicy] = {}
    for route_id, node in reader.mapping(top.get("routes"), "routes").items():
        if route_id not in routes:
            reader.problem(node, f"routes: {route_id!r} is not a route of the route table")
        elif not routes[route_id].can_roll_out:
            reader.problem(node, f"routes: {route_id!r} has no flag moving it from legacy to a target")
        per_route[route_id] = _read_judge(reader, node, f"routes.{route_id}", defaults)
    per_flag: dict[str, JudgePolicy] = {}
    route_flags = {info.flag: info.id for info in routes.values() if info.flag}
    for flag, node in reader.mapping(top.get("flags"), "flags").items():
        judged = _read_judge(reader, node, f"flags.{flag}", defaults)
        if flag in route_flags:
            reader.problem(
                node, f"flags: {flag!r} is route {route_flags[flag]}'s flag: list the route under routes:"
            )
        elif judged.saga is None:
            reader.problem(
                node, f"flags.{flag}: needs saga: (a flag no route carries is judged by its sagas)"
            )
        per_flag[flag] = judged
    reader.raise_if_any()
    return Policy(source=str(path), defaults=defaults, routes=per_route, flags=per_flag)
