"""The judge's two tests against values computed independently (exact sums, textbook examples)."""

import math

import pytest

from control.rollout.stats import binned_quantile, binomial_sf, error_rate_test, mann_whitney_binned


@pytest.mark.parametrize(
    ("k", "n", "p", "expected"),
    [
        (0, 10, 0.3, 1.0),
        (11, 10, 0.3, 0.0),
        (10, 10, 0.5, 0.5**10),
        (1, 10, 0.25, 1 - 0.75**10),
        (3, 5, 0.5, 0.5),  # symmetric
        (8, 8, 0.25, 0.25**8),
    ],
)
def test_binomial_tail_is_exact(k, n, p, expected):
    assert binomial_sf(k, n, p) == pytest.approx(expected, rel=1e-12)


def test_binomial_tail_matches_a_direct_sum_for_a_large_n():
    n, p, k = 400, 0.01, 9
    direct = sum(math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(k, n + 1))
    assert binomial_sf(k, n, p) == pytest.approx(direct, rel=1e-9)


def test_equal_error_rates_are_not_significant_and_a_canary_failing_alone_is():
    same = error_rate_test(5, 500, 15, 1500)
    assert same.p_value > 0.4
    # 8 errors, all on the target, which served a quarter of the requests: 0.25**8
    alone = error_rate_test(8, 100, 0, 300)
    assert alone.p_value == pytest.approx(0.25**8)
    assert alone.increase == pytest.approx(0.08)


def test_no_requests_or_no_errors_give_no_evidence():
    assert error_rate_test(0, 0, 0, 10).p_value == 1.0
    assert error_rate_test(0, 100, 0, 100).p_value == 1.0


BOUNDS = (0.005, 0.01, 0.05, 0.1, math.inf)


def test_mann_whitney_sees_a_shift_and_not_identical_samples():
    legacy = (40, 40, 10, 0, 0)
    assert mann_whitney_binned(BOUNDS, (40, 40, 10, 0, 0), legacy).p_value > 0.4
    slower = mann_whitney_binned(BOUNDS, (0, 5, 10, 75, 0), legacy)
    assert slower.p_value < 1e-10
    assert slower.target_p50 > slower.legacy_p50
    faster = mann_whitney_binned(BOUNDS, legacy, (0, 5, 10, 75, 0))
    assert faster.p_value > 0.99  # one-sided: a faster target is no regression


def test_mann_whitney_u_counts_pairs_with_half_ties():
    # target {bucket 1, bucket 2}, legacy {bucket 1}: pairs (t>l): 1 (bucket 2) + 0.5 (tie) = 1.5
    shift = mann_whitney_binned((1.0, 2.0), (1, 1), (1, 0))
    assert shift.u == pytest.approx(1.5)


def test_everything_in_one_bucket_is_no_evidence():
    assert mann_whitney_binned(BOUNDS, (0, 50, 0, 0, 0), (0, 80, 0, 0, 0)).p_value == 1.0


def test_binned_quantile_interpolates_inside_the_bucket():
    assert binned_quantile((1.0, 2.0), (0, 10), 0.5) == pytest.approx(1.5)
    assert binned_quantile((1.0, math.inf), (0, 10), 0.5) == 1.0
    assert binned_quantile((1.0,), (0,), 0.5) is None
