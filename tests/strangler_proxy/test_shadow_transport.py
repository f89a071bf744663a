"""Shadow pair transport (shadow/transport.py): the file queue with several writer processes, rotation,
torn lines and resumable reading; the publisher that never blocks the gateway; queue URL selection.
(RabbitMQ delivery through a real gateway is in test_shadow_gateway.py.)"""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest

from shadow.pairs import Exchange, ShadowPair
from shadow.transport import (
    BackgroundPublisher,
    FileQueueReader,
    FileQueueWriter,
    consume,
    parse_queue_url,
    queue_url_from_env,
)

REPO = Path(__file__).resolve().parents[2]


def make_pair(path: str = "/items/1") -> ShadowPair:
    answer = Exchange.answered(200, [("Content-Type", "application/json")], b'{"id": 1}', 1.0)
    return ShadowPair.build(
        route="items",
        trace_id="t",
        user=None,
        method="GET",
        path=path,
        query="",
        header_fields=[],
        body=b"",
        primary=answer,
        candidate=answer,
    )


def read_all(url: str) -> list[ShadowPair]:
    pairs: list[ShadowPair] = []
    consume(url, lambda raw: pairs.append(ShadowPair.from_json(raw)), idle_timeout=0.05)
    return pairs


WRITER = """
import sys
from shadow.pairs import Exchange, ShadowPair
from shadow.transport import FileQueueWriter
writer = FileQueueWriter(sys.argv[1], segment_bytes=4096)
answer = Exchange.answered(200, [], b"{}", 1.0)
for n in range(int(sys.argv[3])):
    writer.publish(ShadowPair.build(route="items", trace_id="t", user=None, method="GET",
        path=f"/{sys.argv[2]}/{n}", query="", header_fields=[], body=b"", primary=answer, candidate=answer))
writer.close()
"""


def test_several_writer_processes_share_a_queue_directory_and_every_pair_is_read_once(tmp_path):
    directory = tmp_path / "queue"
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(directory), f"w{n}", "200"], cwd=REPO)
        for n in range(3)
    ]
    assert [writer.wait(60) for writer in writers] == [0, 0, 0]

    pairs = read_all(f"file://{directory}")

    paths = sorted(pair.path for pair in pairs)
    assert paths == sorted(f"/w{w}/{n}" for w in range(3) for n in range(200))
    assert read_all(f"file://{directory}") == []
    assert list(directory.glob("*.jsonl")) == []  # sealed segments read to the end are deleted


def test_a_writer_rotates_its_segment_files_at_the_size_limit(tmp_path):
    writer = FileQueueWriter(tmp_path, segment_bytes=2048)
    for n in range(30):
        writer.publish(make_pair(f"/items/{n}"))
    writer.close()

    segments = sorted(tmp_path.glob("*.jsonl"))

    assert len(segments) > 3
    assert len({segment.name.rsplit("-", 1)[0] for segment in segments}) == 1  # one writer
    assert [p.path for p in read_all(f"file://{tmp_path}")] == [f"/items/{n}" for n in range(30)]


def test_a_line_still_being_written_is_not_read_until_it_is_complete(tmp_path):
    writer = FileQueueWriter(tmp_path)
    writer.publish(make_pair("/items/1"))
    record = make_pair("/items/2").to_json() + b"\n"
    segment = next(tmp_path.glob("*.jsonl"))
    with open(segment, "ab") as handle:
        handle.write(record[:20])  # the live writer (this process) is mid-line

    first = read_all(f"file://{tmp_path}")
    with open(segment, "ab") as handle:
        handle.write(record[20:])
    second = read_all(f"file://{tmp_path}")

    assert [p.path for p in first] == ["/items/1"]
    assert [p.path for p in second] == ["/items/2"]
    writer.close()


def test_the_torn_last_line_of_a_crashed_writer_is_skipped_and_the_rest_is_read(tmp_path):
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    segment = tmp_path / f"{gone.pid}-1-000001.jsonl"
    segment.write_bytes(make_pair("/items/1").to_json() + b"\n" + make_pair("/items/2").to_json()[:30])

    reader = FileQueueReader(tmp_path)
    messages = reader.poll()
    for message in messages:
        message.ack()
    reader.poll()
    reader.close()

    assert [ShadowPair.from_json(m.body).path for m in messages] == ["/items/1"]
    assert reader.torn_lines == 1
    assert not segment.exists()


def test_a_consumer_that_fails_midway_resumes_at_the_first_unhandled_pair(tmp_path):
    writer = FileQueueWriter(tmp_path)
    for n in range(10):
        writer.publish(make_pair(f"/items/{n}"))
    url = f"file://{tmp_path}"
    handled: list[str] = []

    def fail_at_the_fifth(raw: bytes) -> None:
        path = ShadowPair.from_json(raw).path
        if path == "/items/5":
            raise RuntimeError("comparator crashed")
        handled.append(path)

    with pytest.raises(RuntimeError):
        consume(url, fail_at_the_fifth, idle_timeout=0.05)
    rest = [pair.path for pair in read_all(url)]

    assert handled == [f"/items/{n}" for n in range(5)]
    assert rest == [f"/items/{n}" for n in range(5, 10)]
    writer.close()


def test_a_second_consumer_of_the_same_queue_is_refused(tmp_path):
    first = FileQueueReader(tmp_path)
    try:
        with pytest.raises(RuntimeError, match="another consumer"):
            FileQueueReader(tmp_path)
    finally:
        first.close()


class _StuckBackend:
    """A queue that never answers until released (a broker stuck on a full disk)."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.published: list[ShadowPair] = []

    def publish(self, pair: ShadowPair) -> None:
        self.release.wait(10)
        self.published.append(pair)

    def close(self) -> None:
        pass


def test_the_publisher_drops_and_counts_pairs_when_its_buffer_is_full_instead_of_blocking():
    backend = _StuckBackend()
    drops: list[str] = []
    publisher = BackgroundPublisher(lambda: backend, maxsize=5, on_drop=drops.append)

    accepted = [publisher.offer(make_pair(f"/items/{n}")) for n in range(20)]
    backend.release.set()
    publisher.close()

    assert accepted.count(False) == len(drops) == publisher.stats.dropped
    assert set(drops) == {"queue_full"}
    assert 14 <= publisher.stats.dropped <= 15  # 5 buffered, perhaps 1 already taken by the thread
    assert len(backend.published) == 20 - publisher.stats.dropped


class _BrokenBackend:
    def publish(self, pair: ShadowPair) -> None:
        raise ConnectionError("broker down")

    def close(self) -> None:
        pass


def test_a_failing_queue_never_raises_into_the_caller_and_its_losses_are_counted():
    drops: list[str] = []
    publisher = BackgroundPublisher(_BrokenBackend, on_drop=drops.append, retry_pause=0.0)

    accepted = [publisher.offer(make_pair()) for _ in range(3)]
    publisher.close()

    assert accepted == [True, True, True]
    assert drops == ["publish_failed"] * 3
    assert publisher.stats.failed == 3


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"SHADOW_QUEUE_URL": "amqp://h//", "BROKER_URL": "amqp://other//"}, "amqp://h//"),
        ({"BROKER_URL": "amqp://guest:guest@127.0.0.1:5672//"}, "amqp://guest:guest@127.0.0.1:5672//"),
        ({"BROKER_URL": "filesystem://", "STRANGLER_VAR_DIR": "/srv/var"}, "file:///srv/var/shadow/queue"),
        ({"STRANGLER_VAR_DIR": "/srv/var"}, "file:///srv/var/shadow/queue"),
    ],
)
def test_the_queue_is_the_explicit_url_else_an_amqp_broker_else_the_file_queue(env, expected):
    assert queue_url_from_env(env) == expected


def test_amqp_urls_may_name_their_own_exchange_and_queue_and_other_schemes_are_refused():
    target = parse_queue_url("amqp://guest:guest@h:5672//?heartbeat=10&shadow_exchange=x.1&shadow_queue=q.1")

    assert (target.kind, target.exchange, target.queue) == ("amqp", "x.1", "q.1")
    assert target.url == "amqp://guest:guest@h:5672//?heartbeat=10"
    assert parse_queue_url("file:///tmp/q").directory == Path("/tmp/q")
    with pytest.raises(ValueError, match="amqp"):
        parse_queue_url("redis://h/0")
