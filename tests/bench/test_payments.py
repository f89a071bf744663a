"""bench/payments.py at a tiny size, real processes (monolith, sandbox, Payment service with its worker and
relay, RabbitMQ): every charge succeeds on both sides and the JSON line holds every figure. No timings are
judged here; the payment pairs are checked for what the comparator must find in them."""

from __future__ import annotations

import json

import pytest

from bench.payment_pairs import make_payment_pairs
from bench.payments import main
from shadow.comparator import Comparator
from shadow.rules_file import load_rules

pytestmark = pytest.mark.e2e

FIGURES = (
    "service_authorizations_per_s",
    "monolith_charges_per_s",
    "service_p50_ms",
    "service_p99_ms",
    "monolith_p50_ms",
    "monolith_p99_ms",
    "comparator_pairs_per_s",
    "service_cpu_ms_per_charge",
    "monolith_cpu_ms_per_charge",
)


def test_the_payments_bench_charges_on_both_sides_and_prints_one_json_line(tmp_path, capsys):
    output = tmp_path / "payments.json"
    argv = ["--charges", "6", "--rounds", "1", "--warmup", "1", "--concurrency", "3", "--latency-ms", "5",
            "--customers", "2", "--pairs", "60", "--worker-concurrency", "2", "--worker-processes", "2",
            "--no-progress",
            "--var-dir", str(tmp_path / "var"), "--output", str(output)]  # fmt: skip
    assert main(argv) == 0
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line == json.loads(output.read_text())
    for figure in FIGURES:
        assert line[figure] > 0, figure
    assert isinstance(line["goal_met"], bool)
    assert line["service_errors"] == line["monolith_errors"] == 0
    for system in ("service", "monolith"):
        (round_,) = line["rounds"][system]
        assert round_["ok"] == 6
        assert round_["authorized_p50_ms"] <= round_["p50_ms"]  # authorized before captured
    assert line["comparator"]["mismatched"] == line["comparator"]["planted"] == 1


def test_payment_pairs_differ_under_the_shipped_rules_only_where_a_difference_was_planted():
    pairs, planted = make_payment_pairs(200, mismatch_every=50)
    results = [Comparator(load_rules()).compare(pair) for pair in pairs]
    assert {pair.route for pair in pairs} == {"payments.charge", "payments.read"}
    differing = [result for result in results if not result.matched]
    assert planted == len(differing) == 4
    assert {result.paths for result in differing} == {("body.fraud_score",)}
    assert not any(result.skipped for result in results)
