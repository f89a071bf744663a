"""How the false-rollback budget (the policy's alpha) is split over the judge's looks.

The judge looks at a step's window at most once per LOOK_EVERY seconds, and each look runs two tests
(three when saga outcomes are evidence: the policy's `tests`). With the budget split evenly over the tests,
every judged step and its planned looks (a union bound),
a healthy candidate is rolled back in at most `alpha` of rollouts however often the judge looks. A step
held past its time (not enough data) spends, on its k-th extra look, share * 6/(pi^2 k^2): these sum to
at most one more share, which the split reserves."""

from __future__ import annotations

import math

LOOK_EVERY = 1.0


def judged_steps(steps: list[int]) -> int:
    """Steps the judge rules on: all but a final 100% (legacy gets nothing to compare there)."""
    return len(steps) - (1 if steps[-1] == 100 else 0)


def planned_looks(step_time: float) -> int:
    return math.ceil(step_time / LOOK_EVERY)


def alpha_per_look(alpha: float, steps: list[int], step_time: float, tests: int = 2) -> float:
    return alpha / (tests * max(1, judged_steps(steps)) * (planned_looks(step_time) + 1))


def look_alpha(share: float, look: int, planned: int) -> float:
    if look <= planned:
        return share
    return share * 6 / (math.pi**2 * (look - planned) ** 2)
