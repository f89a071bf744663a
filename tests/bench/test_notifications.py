"""bench/notifications.py end to end at a tiny size: the Notification service's real consumer and worker
processes, a RabbitMQ vhost, a throwaway database and the aiosmtpd sink; the JSON line and its figures.
No timing is asserted: only that every figure is there, consistent, and that each event gave one email."""

from __future__ import annotations

import json
import os
import shutil

import pytest

from bench.notification_events import KINDS, plan, recipients_for
from bench.notifications import GOAL_P99_MS, GOAL_PER_S, main

pytestmark = [
    pytest.mark.skipif(
        not os.environ.get("DATABASE_URL", "").startswith("postgres"),
        reason="needs PostgreSQL (DATABASE_URL)",
    ),
    pytest.mark.skipif(shutil.which("rabbitmqctl") is None, reason="needs a local RabbitMQ (rabbitmqctl)"),
]


def test_the_event_mix_gives_each_event_its_own_address_and_seeds_the_order_owners():
    events = plan(0, 7, "t")
    assert [e.kind for e in events[:3]] == list(KINDS)
    assert len({e.recipient for e in events}) == 7
    seeds = recipients_for(events)
    assert [s.data["email"] for s in seeds] == [e.recipient for e in events if e.kind == "order.failed"]
    first, second = events[0].envelope(), events[0].envelope()
    assert first.id != second.id  # a fresh envelope (and occurred_at) at each publication


def test_the_bench_sends_every_event_once_over_smtp_and_prints_one_json_line(tmp_path, capsys):
    output = tmp_path / "notifications.json"
    argv = [
        "--events", "15", "--steady-seconds", "1", "--warmup", "3", "--baseline-messages", "5",
        "--output", str(output), "--var-dir", str(tmp_path / "var"), "--no-progress",
    ]  # fmt: skip
    assert main(argv) == 0
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line == json.loads(output.read_text())
    assert line["bench"] == "notifications"
    assert line["burst"]["events"] == 15
    assert line["messages_per_s"] == line["burst"]["messages_per_s"] > 0
    assert line["rate_per_s"] == round(line["messages_per_s"] / 2, 1)
    assert line["steady"]["events"] == max(1, round(line["rate_per_s"] * 1))
    assert 0 < line["p50_delivery_ms"] <= line["p99_delivery_ms"] <= line["steady"]["max_delivery_ms"]
    assert line["goal_throughput_met"] is (line["messages_per_s"] >= GOAL_PER_S)
    assert line["goal_p99_met"] is (line["p99_delivery_ms"] < GOAL_P99_MS)
    assert line["smtp_direct_per_s"] > 0
    # exactly once: one `sent` row and one SMTP receipt per event, no duplicate
    assert line["duplicates"] == 0
    assert line["sent_rows"] == line["expected_rows"] == 3 + 15 + line["steady"]["events"]
