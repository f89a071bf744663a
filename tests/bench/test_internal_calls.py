"""bench/internal_calls.py: stock reservations through the Product service's REST and gRPC paths against real
server processes (a tiny run, without the mutual-TLS modes)."""

import json

from bench.internal_calls import main


def test_the_internal_bench_reports_grpc_and_rest_figures_side_by_side(tmp_path, capsys):
    output = tmp_path / "internal_calls.json"
    argv = ["--calls", "20", "--rounds", "1", "--concurrency", "2", "--processes", "1", "--threads", "2"]
    assert main([*argv, "--no-mtls", "--output", str(output)]) == 0
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line == json.loads(output.read_text())
    for mode in ("grpc", "rest"):
        assert line[f"{mode}_errors"] == 0
        assert line[f"{mode}_calls_per_s"] > 0
        assert 0 < line[f"{mode}_p50_ms"] <= line[f"{mode}_p99_ms"]
    assert line["per_round"]["grpc"][0]["calls"] == line["per_round"]["rest"][0]["calls"] == 20
