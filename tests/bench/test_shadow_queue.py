"""bench/shadow_queue.py runs both queues end to end and reports every figure (a tiny run)."""

import json

from bench.shadow_queue import main


def test_the_queue_bench_moves_every_pair_through_both_queues_and_prints_one_json_line(tmp_path, capsys):
    output = tmp_path / "shadow-queue.json"
    assert main(["--pairs", "30", "--rounds", "2", "--backlog", "40", "--output", str(output)]) == 0
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line == json.loads(output.read_text())
    for figure in ("ours_publish_per_s", "kombu_publish_per_s", "ours_consume_per_s", "kombu_consume_per_s"):
        assert line[figure] > 0
    assert line["kombu_consume_backlog_40_per_s"] > 0
    assert line["publish_ratio"] == round(line["ours_publish_per_s"] / line["kombu_publish_per_s"], 2)
