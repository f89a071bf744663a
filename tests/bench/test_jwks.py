"""bench/jwks.py measures both JWKS caches against a real endpoint and reports every figure (a tiny run)."""

import json

from bench.jwks import main


def test_the_jwks_bench_reports_lookup_cost_forged_kids_and_the_outage_for_both(tmp_path, capsys):
    output = tmp_path / "jwks.json"
    assert main(["--lookups", "200", "--rounds", "2", "--output", str(output)]) == 0
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line == json.loads(output.read_text())
    assert line["ours_lookup_us"] > 0
    assert line["pyjwt_lookup_us"] > 0
    assert line["ours_serves_during_outage"] is True  # the last good set keeps answering
    assert line["pyjwt_serves_during_outage"] is False
    assert line["ours_fetches_forged_kids"] <= 1
