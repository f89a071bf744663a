"""bench/event_signing.py measures the digest, the signature and its verification per event (a tiny run)."""

import json

from bench.event_signing import main


def test_the_events_bench_reports_digest_sign_and_verify_cost_per_event(tmp_path, capsys):
    output = tmp_path / "event_signing.json"
    assert main(["--events", "50", "--rounds", "2", "--output", str(output)]) == 0
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line == json.loads(output.read_text())
    for figure in ("digest", "sign", "verify", "parse", "parse_no_digest", "ecdsa_sign", "ecdsa_verify"):
        assert line[f"{figure}_us_per_event"] > 0
    assert line["event_bytes"] > line["unsigned_event_bytes"]  # kid and signature on the critical event
