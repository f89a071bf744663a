"""The two tests the judge runs, in plain Python (no SciPy needed for these closed forms).

- Error rate: the exact conditional binomial test of two Poisson rates (Przyborowski & Wilenski's
  C-test). Given k errors in all, and that the target served a share p0 = n_t / (n_t + n_l) of the
  requests, the target's errors are Binomial(k, p0) when both sides fail equally often; the one-sided
  p-value is P(X >= e_t). Exact for any sample size, so a canary of 20 requests is judged correctly.
- Latency: the Mann-Whitney U test on the gateway's histogram buckets (every request in one bucket is a
  tie), one-sided (is the target slower?), normal approximation with the tie correction and a continuity
  correction. The buckets lose the order inside a bucket, which only makes the test more conservative.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


def binomial_sf(k: int, n: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p), summed exactly in log space."""
    if k <= 0:
        return 1.0
    if k > n:
        return 0.0
    if p <= 0.0:
        return 0.0
    if p >= 1.0:
        return 1.0
    log_p, log_q = math.log(p), math.log1p(-p)
    log_n = math.lgamma(n + 1)
    terms = [
        log_n - math.lgamma(i + 1) - math.lgamma(n - i + 1) + i * log_p + (n - i) * log_q
        for i in range(k, n + 1)
    ]
    top = max(terms)
    return min(1.0, math.exp(top) * math.fsum(math.exp(t - top) for t in terms))


@dataclass(frozen=True)
class RateTest:
    target_rate: float
    legacy_rate: float
    p_value: float

    @property
    def increase(self) -> float:
        return self.target_rate - self.legacy_rate


def error_rate_test(target_errors: int, target_requests: int, legacy_errors: int, legacy_requests: int):
    """Is the target's error rate higher than legacy's? (the C-test, one-sided)."""
    target_rate = target_errors / target_requests if target_requests else 0.0
    legacy_rate = legacy_errors / legacy_requests if legacy_requests else 0.0
    total = target_errors + legacy_errors
    if not target_requests or not legacy_requests or total == 0:
        return RateTest(target_rate, legacy_rate, 1.0)
    share = target_requests / (target_requests + legacy_requests)
    return RateTest(target_rate, legacy_rate, binomial_sf(target_errors, total, share))


@dataclass(frozen=True)
class ShiftTest:
    u: float
    z: float
    p_value: float
    target_p50: float | None
    legacy_p50: float | None

    @property
    def p50_increase(self) -> float | None:
        if self.target_p50 is None or self.legacy_p50 is None:
            return None
        return self.target_p50 - self.legacy_p50


def normal_sf(z: float) -> float:
    return 0.5 * math.erfc(z / math.sqrt(2.0))


def binned_quantile(bounds: Sequence[float], counts: Sequence[float], q: float) -> float | None:
    """The q-quantile of bucketed observations, linear inside a bucket (Prometheus' histogram_quantile
    rule). `bounds` are the buckets' upper bounds in order; the last may be +Inf (then its lower bound is
    returned for observations there)."""
    total = sum(counts)
    if total <= 0:
        return None
    rank = q * total
    seen = 0.0
    lower = 0.0
    for bound, count in zip(bounds, counts, strict=True):
        if count and seen + count >= rank:
            if math.isinf(bound):
                return lower
            return lower + (bound - lower) * (rank - seen) / count
        seen += count
        if not math.isinf(bound):
            lower = bound
    return lower


def mann_whitney_binned(
    bounds: Sequence[float], target: Sequence[float], legacy: Sequence[float]
) -> ShiftTest | None:
    """One-sided Mann-Whitney U (target slower than legacy) on per-bucket counts; None without data."""
    n_t, n_l = sum(target), sum(legacy)
    if n_t <= 0 or n_l <= 0:
        return None
    u = 0.0
    below_legacy = 0.0
    ties = 0.0
    for t_count, l_count in zip(target, legacy, strict=True):
        u += t_count * (below_legacy + 0.5 * l_count)
        below_legacy += l_count
        tied = t_count + l_count
        ties += tied**3 - tied
    n = n_t + n_l
    mean = n_t * n_l / 2.0
    variance = n_t * n_l / 12.0 * ((n + 1) - ties / (n * (n - 1))) if n > 1 else 0.0
    if variance <= 0:  # every observation in one bucket: no evidence of a shift
        z, p_value = 0.0, 1.0
    else:
        z = (u - mean - 0.5) / math.sqrt(variance)
        p_value = normal_sf(z)
    return ShiftTest(
        u=u,
        z=z,
        p_value=p_value,
        target_p50=binned_quantile(bounds, target, 0.5),
        legacy_p50=binned_quantile(bounds, legacy, 0.5),
    )
