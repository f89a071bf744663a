"""`shadow gate ROUTE --min-match 99.9 --min-samples N`: is the evidence enough to promote the route?

Passes only with at least N compared pairs AND a match rate after noise cancellation (pairs whose only
differences are noise count as matching) of at least the minimum."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from shadow.commands.common import check_threshold, thresholds_for
from shadow.errors import ShadowError
from shadow.rules import Rules
from shadow.selectors import route_evidence


@dataclass(frozen=True)
class GateResult:
    route: str
    passed: bool
    reason: str
    samples: int
    min_samples: int
    match_rate: float | None
    min_match: float
    real_paths: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        return {
            "route": self.route,
            "passed": self.passed,
            "reason": self.reason,
            "samples": self.samples,
            "min_samples": self.min_samples,
            "match_rate": None if self.match_rate is None else round(self.match_rate, 4),
            "min_match": self.min_match,
            "real_paths": list(self.real_paths),
        }


def shadow_gate(
    *,
    rules: Rules,
    route: str,
    min_match: float,
    min_samples: int,
    since: datetime | None = None,
    relative: float | None = None,
    absolute: float | None = None,
) -> GateResult:
    if not 0 <= min_match <= 100:
        raise ShadowError("bad_argument", f"--min-match must be a percentage from 0 to 100, got {min_match}")
    if min_samples < 1:
        raise ShadowError("bad_argument", f"--min-samples must be at least 1, got {min_samples}")
    check_threshold("relative", relative)
    check_threshold("absolute", absolute)
    thresholds = thresholds_for(rules, route, relative=relative, absolute=absolute)
    evidence = route_evidence(route, thresholds=thresholds, since=since)
    result = dict(route=route, min_samples=min_samples, min_match=min_match)
    if evidence is None:
        return GateResult(
            passed=False,
            reason=f"route {route}: no shadow pairs compared yet (need {min_samples})",
            samples=0,
            match_rate=None,
            **result,
        )
    real = tuple(v.path for v in evidence.verdicts if v.real)
    result.update(samples=evidence.samples, match_rate=evidence.match_rate, real_paths=real)
    rate = f"{evidence.match_rate:.3f}%"
    if evidence.samples < min_samples:
        reason = f"route {route}: {evidence.samples} samples, fewer than the {min_samples} required"
        return GateResult(passed=False, reason=reason, **result)
    if evidence.match_rate < min_match:
        worst = f"; real differences at {', '.join(real[:3])}" if real else ""
        reason = f"route {route}: match rate {rate} is below {min_match}% over {evidence.samples} samples"
        reason += worst
        return GateResult(passed=False, reason=reason, **result)
    reason = f"route {route}: match rate {rate} >= {min_match}% over {evidence.samples} samples"
    return GateResult(passed=True, reason=reason, **result)
