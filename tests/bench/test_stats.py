"""The figures every bench reports."""

import pytest

from bench.stats import percentile, summarize


@pytest.mark.parametrize(
    ("values", "p", "expected"),
    [
        ([1, 2, 3, 4], 50, 2.5),
        ([4, 1, 3, 2], 50, 2.5),  # order of arrival does not matter
        ([5], 99, 5),
        ([10, 20, 30, 40, 50], 90, 46),
        ([10, 20, 30, 40, 50], 0, 10),
        ([10, 20, 30, 40, 50], 100, 50),
        (list(range(1, 101)), 99, 99.01),
    ],
)
def test_percentile_interpolates_linearly_between_closest_ranks(values, p, expected):
    assert percentile(values, p) == pytest.approx(expected)


@pytest.mark.parametrize(("values", "p"), [([], 50), ([1, 2], -1), ([1, 2], 100.5)])
def test_percentile_refuses_nothing_to_measure_or_a_rank_out_of_range(values, p):
    with pytest.raises(ValueError, match="percentile"):
        percentile(values, p)


def test_summarize_reports_milliseconds_throughput_and_matches():
    figures = summarize([0.010, 0.020, 0.030], errors=1, wall_s=0.5, counts=[10, 30])

    assert figures.requests == 3
    assert figures.errors == 1
    assert figures.p50_ms == 20.0
    assert figures.mean_ms == 20.0
    assert figures.max_ms == 30.0
    assert figures.p99_ms == pytest.approx(29.8)
    assert figures.rps == 6.0
    assert figures.avg_count == 20.0
    assert set(figures.as_dict()) >= {"p50_ms", "p99_ms", "rps", "errors"}


def test_summarize_of_a_scenario_where_nothing_answered_is_all_zeros_not_a_crash():
    figures = summarize([], errors=0, wall_s=0.0, counts=[])

    assert (figures.requests, figures.rps, figures.p99_ms, figures.avg_count) == (0, 0.0, 0.0, 0.0)
