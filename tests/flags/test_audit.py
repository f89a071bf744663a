"""The flag audit log: a hash chain that `flags audit --verify` checks line by line."""

import json
import multiprocessing

import pytest

from flags.audit import AuditLog
from kernel.audit import GENESIS, entry_hash


@pytest.fixture
def audit(tmp_path) -> AuditLog:
    return AuditLog(tmp_path / "flags-audit.log")


def fill(audit: AuditLog, count: int) -> None:
    for i in range(count):
        audit.append(
            who="alice@ops",
            flag=f"route.r{i}",
            action="on",
            before={"enabled": False},
            after={"enabled": True},
        )


def lines(audit: AuditLog) -> list[str]:
    return audit.path.read_text().splitlines(keepends=True)


def test_each_entry_records_who_when_what_and_is_chained_to_the_one_before(audit):
    first = audit.append(
        who="alice@ops", flag="route.a", action="on", before={"enabled": False}, after={"enabled": True}
    )
    second = audit.append(
        who="bob@ops", flag="route.a", action="off", before={"enabled": True}, after={"enabled": False}
    )

    assert set(first) == {"who", "when", "flag", "action", "before", "after", "prev_hash", "hash"}
    assert first["prev_hash"] == GENESIS
    assert second["prev_hash"] == first["hash"]
    assert second["hash"] == entry_hash({k: v for k, v in second.items() if k != "hash"})
    assert [e["who"] for e in audit.entries()] == ["alice@ops", "bob@ops"]


def test_an_untouched_log_verifies(audit):
    fill(audit, 5)

    result = audit.verify()

    assert result.ok
    assert result.entries == 5


def test_an_empty_or_absent_log_verifies(audit):
    assert audit.verify().ok


def test_an_edited_line_is_named_by_verify(audit):
    fill(audit, 5)
    content = lines(audit)
    entry = json.loads(content[2])
    entry["who"] = "mallory@ops"
    content[2] = json.dumps(entry) + "\n"
    audit.path.write_text("".join(content))

    result = audit.verify()

    assert not result.ok
    assert result.bad_line == 3
    assert "edited" in result.reason


def test_an_edit_that_also_recomputes_the_hash_breaks_the_next_line(audit):
    fill(audit, 5)
    content = lines(audit)
    entry = json.loads(content[1])
    entry["after"] = {"enabled": False}
    entry["hash"] = entry_hash({k: v for k, v in entry.items() if k != "hash"})
    content[1] = json.dumps(entry) + "\n"
    audit.path.write_text("".join(content))

    result = audit.verify()

    assert (result.ok, result.bad_line) == (False, 3)


@pytest.mark.parametrize("removed", [0, 2])
def test_a_removed_line_is_detected_at_the_line_after_it(audit, removed):
    fill(audit, 5)
    content = lines(audit)
    del content[removed]
    audit.path.write_text("".join(content))

    result = audit.verify()

    assert (result.ok, result.bad_line) == (False, removed + 1)
    assert "removed or reordered" in result.reason


def test_lines_cut_from_the_end_are_detected_through_the_head_record(audit):
    fill(audit, 5)
    audit.path.write_text("".join(lines(audit)[:3]))

    result = audit.verify()

    assert not result.ok
    assert result.bad_line == 4
    assert "5 entries were written" in result.reason


def test_reordered_lines_are_detected(audit):
    fill(audit, 5)
    content = lines(audit)
    content[1], content[3] = content[3], content[1]
    audit.path.write_text("".join(content))

    result = audit.verify()

    assert (result.ok, result.bad_line) == (False, 2)


def test_a_line_that_is_not_json_is_named(audit):
    fill(audit, 3)
    content = lines(audit)
    content[1] = content[1][:40] + "\n"
    audit.path.write_text("".join(content))

    assert (audit.verify().ok, audit.verify().bad_line) == (False, 2)


def _append_many(path: str, worker: int, count: int) -> None:
    log = AuditLog(__import__("pathlib").Path(path))
    for i in range(count):
        log.append(who=f"worker-{worker}", flag="route.a", action="on", before={"i": i}, after={"i": i + 1})


def test_concurrent_writers_keep_the_chain_whole(audit):
    workers = [
        multiprocessing.get_context("fork").Process(target=_append_many, args=(str(audit.path), w, 40))
        for w in range(4)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
        assert worker.exitcode == 0

    result = audit.verify()

    assert result.ok, result
    assert result.entries == 160
