"""`manage.py shadow worker|report|status|gate` in-process, against the shadow database and a file queue."""

import html
import io
import json
import re

import pytest
from django.core.management import CommandError, call_command

from shadow.models import DeadLetter, PairResult
from shadow.transport import FileQueueWriter
from tests.shadow.builders import answer, make_pair
from tests.shadow.conftest import shadow_db

pytestmark = shadow_db


def product(n: int, price: str = "1.00") -> dict:
    return {"id": 1, "price": price, "generated_at": f"2026-01-01T00:00:00.{n:06d}Z"}


def pairs(count: int, *, real_every: int = 0, route: str = "catalog.read", start: int = 0) -> list:
    """Noisy pairs (a generation timestamp differs on every answer, legacy's secondary included); every
    `real_every`-th candidate also renders the price differently."""
    return [
        make_pair(
            answer(product(3 * n)),
            answer(product(3 * n + 1, "1.0" if real_every and n % real_every == 0 else "1.00")),
            secondary=answer(product(3 * n + 2)),
            route=route,
            trace_id=f"{n:032x}",
        )
        for n in range(start, start + count)
    ]


@pytest.fixture
def queue(tmp_path, monkeypatch):
    """A file queue the worker reads (SHADOW_QUEUE_URL); returns a function that publishes pairs to it."""
    directory = tmp_path / "queue"
    monkeypatch.setenv("SHADOW_QUEUE_URL", f"file://{directory}")

    def publish(items, *, raw_lines=()):
        writer = FileQueueWriter(directory)
        for pair in items:
            writer.publish(pair)
        for line in raw_lines:
            writer.append(line)
        writer.close()

    return publish


def shadow(*args: str) -> str:
    out = io.StringIO()
    call_command("shadow", *args, stdout=out)
    return out.getvalue()


def shadow_json(*args: str):
    return json.loads(shadow(*args, "--json"))


def gate(*args: str) -> tuple[int, str]:
    """(exit code, output) of `shadow gate ...`."""
    out = io.StringIO()
    try:
        call_command("shadow", "gate", *args, stdout=out)
    except SystemExit as exc:
        return exc.code, out.getvalue()
    except CommandError as exc:
        return exc.returncode, str(exc)
    return 0, out.getvalue()


def gate_exit(*args: str) -> int:
    return gate(*args)[0]


def test_the_worker_compares_and_stores_every_pair_and_dead_letters_what_is_not_a_pair(queue):
    queue(pairs(30, real_every=10), raw_lines=[b"{not json", b'{"version": 1}'])

    result = shadow_json("worker", "--once", "--idle-timeout", "0.2")

    assert (result["received"], result["recorded"], result["dead_letters"]) == (32, 30, 2)
    assert result["routes"] == {"catalog.read": 30}
    assert PairResult.objects.count() == 30
    assert {d.error.split(":")[0] for d in DeadLetter.objects.all()} == {"malformed pair"}


def test_a_pair_too_big_for_the_result_columns_is_a_dead_letter_not_a_stuck_worker(queue):
    odd = make_pair(answer({"n": 1}), answer({"n": 1}), route="r" * 101)
    queue([odd, *pairs(3)])

    result = shadow_json("worker", "--once", "--idle-timeout", "0.2")

    assert (result["recorded"], result["dead_letters"]) == (3, 1)
    assert DeadLetter.objects.get().error == "malformed pair: pair.route is longer than 100 characters"


def test_a_redelivered_pair_is_recorded_once(queue):
    batch = pairs(5)
    queue(batch + batch[:2])

    result = shadow_json("worker", "--once", "--idle-timeout", "0.2")

    assert (result["received"], result["recorded"], result["duplicates"]) == (7, 5, 2)
    assert shadow_json("status")["routes"][0]["samples"] == 5


def test_max_pairs_stops_the_worker_and_the_rest_stays_in_the_queue(queue):
    queue(pairs(10))

    first = shadow_json("worker", "--max-pairs", "4", "--batch", "3")
    status = shadow_json("status")

    assert first["received"] == 4
    assert status["backlog"]["pairs"] == 6
    assert status["routes"][0]["samples"] == 4


def test_status_shows_samples_match_rate_and_the_age_of_the_last_pair(queue):
    queue(pairs(20, real_every=4))
    shadow("worker", "--once", "--idle-timeout", "0.2", "--no-progress")

    (route,) = shadow_json("status")["routes"]

    assert route["route"] == "catalog.read"
    assert route["samples"] == 20
    assert route["match_rate"] == 75.0
    assert route["raw_match_rate"] == 0.0  # every pair differs in the timestamp: all noise
    assert route["real_paths"] == ["body.price"]
    assert route["last_pair_age_s"] >= 0


def test_report_json_names_the_real_path_its_noise_share_and_example_trace_ids(queue):
    queue(pairs(40, real_every=8))
    shadow("worker", "--once", "--idle-timeout", "0.2", "--no-progress")

    report = shadow_json("report", "--format", "json")

    (route,) = report["routes"]
    paths = {p["path"]: p for p in route["paths"]}
    assert paths["body.price"]["real"] is True
    assert paths["body.price"]["raw"] == 5
    assert paths["body.price"]["noise_share"] == 0.0
    assert paths["body.generated_at"]["real"] is False
    assert paths["body.generated_at"]["noise_share"] == 1.0
    assert route["match_rate"] == 87.5
    assert sum(b["samples"] for b in route["over_time"]) == 40
    examples = route["examples"]["body.price"]
    assert len(examples) == 2
    assert {e["trace_id"] for e in examples} <= {f"{n:032x}" for n in range(0, 40, 8)}
    assert examples[0]["example"]["candidate"]["body"].startswith('{"id":1,"price":"1.0"')


def test_report_filters_by_route_and_since(queue):
    queue(pairs(5) + pairs(3, route="orders.read", start=5))
    shadow("worker", "--once", "--idle-timeout", "0.2", "--no-progress")

    only_orders = shadow_json("report", "--format", "json", "--route", "orders.read")
    future = shadow_json("report", "--format", "json", "--since", "2999-01-01T00:00:00Z")
    recent = shadow_json("report", "--format", "json", "--since", "1h")

    assert [r["route"] for r in only_orders["routes"]] == ["orders.read"]
    assert future["routes"] == []
    assert {r["route"]: r["samples"] for r in recent["routes"]} == {"catalog.read": 5, "orders.read": 3}


def test_report_table_is_readable(queue):
    queue(pairs(10, real_every=2))
    shadow("worker", "--once", "--idle-timeout", "0.2", "--no-progress")

    text = shadow("report", "--format", "table")

    assert "catalog.read: 10 samples" in text
    assert "body.price" in text
    assert "real" in text


def test_the_html_report_escapes_what_comes_from_pairs(queue, tmp_path):
    hostile = {"id": 1, "name": "<script>alert(1)</script>"}
    queue([make_pair(answer({"id": 1, "name": "ok"}), answer(hostile), trace_id="<img src=x>")])
    shadow("worker", "--once", "--idle-timeout", "0.2", "--no-progress")
    output = tmp_path / "report.html"

    shadow("report", "--format", "html", "--output", str(output))

    html = output.read_text()
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<img src=x>" not in html
    assert "&lt;img src=x&gt;" in html
    tags = set(re.findall(r"<([a-z0-9]+)", html))  # and no external assets: nothing loads from anywhere
    assert tags.isdisjoint({"script", "link", "img", "iframe", "object", "embed"})
    assert "url(" not in html


def test_the_html_report_shows_the_real_path_its_counts_and_an_example_with_its_trace_id(queue, tmp_path):
    queue(pairs(40, real_every=8))
    shadow("worker", "--once", "--idle-timeout", "0.2", "--no-progress")
    output = tmp_path / "report.html"

    shadow("report", "--format", "html", "--output", str(output))

    html = output.read_text()
    row = re.search(r"<tr><td><code>body\.price</code></td><td>(.*?)</tr>", html)
    assert row is not None
    assert 'class="badge real"' in row[1]
    assert '<td class="num">5</td>' in row[1]  # raw differences
    shown = set(re.findall(r"for <code>body\.price</code> &middot; trace <code>([0-9a-f]{32})</code>", html))
    assert len(shown) == 2
    assert shown <= {f"{n:032x}" for n in range(0, 40, 8)}  # pairs whose price really differed
    assert "<svg" in html
    assert "87.500%" in html  # the match rate after noise cancellation


def test_gate_passes_with_enough_samples_and_a_high_enough_match_rate_after_noise(queue):
    queue(pairs(50))  # noise only
    shadow("worker", "--once", "--idle-timeout", "0.2", "--no-progress")

    code, output = gate("catalog.read", "--min-match", "99.9", "--min-samples", "50", "--json")

    assert code == 0
    assert json.loads(output)["passed"] is True
    assert json.loads(output)["match_rate"] == 100.0


def test_gate_fails_with_too_few_samples(queue):
    queue(pairs(10))
    shadow("worker", "--once", "--idle-timeout", "0.2", "--no-progress")

    code, output = gate("catalog.read", "--min-match", "99", "--min-samples", "11", "--json")

    assert code == 1
    assert json.loads(output)["reason"] == "route catalog.read: 10 samples, fewer than the 11 required"


def test_gate_fails_when_real_differences_pull_the_match_rate_below_the_minimum(queue):
    queue(pairs(100, real_every=50))  # 2 real mismatches: 98 %
    shadow("worker", "--once", "--idle-timeout", "0.2", "--no-progress")

    assert gate_exit("catalog.read", "--min-match", "98", "--min-samples", "100") == 0
    assert gate_exit("catalog.read", "--min-match", "98.5", "--min-samples", "100") == 1
    assert gate("catalog.read", "--min-match", "99", "--min-samples", "1")[1] == (
        "FAIL: route catalog.read: match rate 98.000% is below 99.0% over 100 samples;"
        " real differences at body.price\n"
    )


def test_gate_fails_for_a_route_without_pairs():
    assert gate_exit("nothing.here", "--min-match", "99", "--min-samples", "1") == 1


def test_gate_noise_thresholds_can_be_changed_on_the_command_line(queue):
    queue(pairs(100, real_every=50))
    shadow("worker", "--once", "--idle-timeout", "0.2", "--no-progress")

    # with an absolute threshold of 5 % of the samples, 2 differing pairs are noise
    assert gate_exit("catalog.read", "--min-match", "99.9", "--min-samples", "1", "--absolute", "5") == 0


@pytest.mark.parametrize(
    "args",
    [
        ("--min-match", "101", "--min-samples", "1"),
        ("--min-match", "99", "--min-samples", "0"),
        ("--min-match", "99", "--min-samples", "1", "--relative", "-1"),
        ("--min-match", "99", "--min-samples", "1", "--since", "yesterday-ish"),
    ],
)
def test_gate_exits_2_on_bad_input(args):
    assert gate_exit("catalog.read", *args) == 2


def test_a_broken_rules_file_is_an_error_naming_the_file_and_line(tmp_path):
    rules = tmp_path / "rules.yaml"
    rules.write_text("version: 1\ndefaults:\n  ignore: [nope]\n")

    with pytest.raises(CommandError) as caught:
        shadow("gate", "catalog.read", "--min-match", "99", "--min-samples", "1", "--rules", str(rules))

    assert caught.value.returncode == 2
    assert f"{rules}:3: defaults.ignore: path 'nope' must start with body" in str(caught.value)


def test_the_rules_file_comes_from_settings(tmp_path, settings, queue):
    rules = tmp_path / "rules.yaml"
    rules.write_text("version: 1\ndefaults:\n  ignore: [body.generated_at, body.price]\n")
    settings.SHADOW_RULES = str(rules)
    queue(pairs(10, real_every=2))

    result = shadow_json("worker", "--once", "--idle-timeout", "0.2")

    assert (result["matched"], result["mismatched"]) == (10, 0)


def test_the_html_report_highlights_the_differing_values_in_both_bodies(queue, tmp_path):
    queue([make_pair(answer({"id": 1, "price": "1.00"}), answer({"id": 1, "price": "1.0"}))])
    shadow("worker", "--once", "--idle-timeout", "0.2", "--no-progress")
    output = tmp_path / "report.html"

    shadow("report", "--format", "html", "--output", str(output))

    marked = re.findall(r"<mark>(.*?)</mark>", output.read_text())
    assert [html.unescape(line) for line in marked] == ['  "price": "1.00"', '  "price": "1.0"']
    assert all('"' not in line for line in marked)  # escaped in the page


def compared_count(route: str, outcome: str) -> float:
    from prometheus_client import REGISTRY

    value = REGISTRY.get_sample_value(
        "strangler_shadow_pairs_compared_total", {"route": route, "outcome": outcome}
    )
    return value or 0.0


def test_the_worker_counts_each_stored_pair_once_by_route_and_outcome(queue):
    batch = pairs(10, real_every=5, route="counted.read")  # n = 0 and 5 render the price differently
    queue(batch + batch[:3])  # three redelivered

    shadow_json("worker", "--once", "--idle-timeout", "0.2")
    queue(batch[3:6])  # and again in a later batch
    shadow_json("worker", "--once", "--idle-timeout", "0.2")

    counts = {o: compared_count("counted.read", o) for o in ("matched", "noise", "mismatched", "skipped")}
    # the generation time differs on every answer, the legacy secondary's too: noise, not a mismatch
    assert counts == {"matched": 0.0, "noise": 8.0, "mismatched": 2.0, "skipped": 0.0}


def test_identical_answers_count_as_matched(queue):
    same = [make_pair(answer({"id": n}), answer({"id": n}), route="same.read") for n in range(3)]
    queue(same)

    shadow_json("worker", "--once", "--idle-timeout", "0.2")

    assert compared_count("same.read", "matched") == 3.0
    assert compared_count("same.read", "mismatched") == 0.0


def test_the_metrics_port_serves_the_counters_while_the_worker_runs(queue):
    import socket
    import urllib.error
    import urllib.request

    from kernel.metrics_port import serving

    queue(pairs(2, route="served.read"))
    shadow_json("worker", "--once", "--idle-timeout", "0.2")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with serving(port):
        text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    assert 'strangler_shadow_pairs_compared_total{outcome="noise",route="served.read"} 2.0' in text
    with pytest.raises(urllib.error.URLError, match="refused"):  # the port is closed once the worker stops
        urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2)
