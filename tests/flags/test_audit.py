"""The flag audit log: a keyed hash chain with a signed head and a checkpoint per change, which
`flags audit --verify` checks; the shared tampering suite (tests/kernel/audit_tampering.py) runs on it."""

import json
import multiprocessing
from pathlib import Path

import pytest

from flags.audit import LINK_ACTION, AuditLog
from flags.config import FlagsConfig
from flags.errors import FlagsError
from kernel.audit import GENESIS, AuditKey, FileCheckpoints, RedisCheckpoints, canonical, entry_hash
from tests.kernel.audit_tampering import TAMPERINGS, legacy_chain_is_linked_then_vouched_for


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


class FlagsLog:
    """The flags audit log as a tampering target."""

    edit = ("who", "mallory@ops")

    def __init__(self, audit: AuditLog) -> None:
        self.audit, self.key, self.store, self.chain = audit, audit.key, audit.checkpoints, audit.chain

    def write(self, count: int) -> None:
        fill(self.audit, count)

    def write_legacy(self, count: int) -> None:
        """What flags/audit.py wrote before audit keys: unkeyed SHA-256, no seq, an unsigned head."""
        prev, out = GENESIS, []
        for i in range(count):
            entry = {"who": "old@ops", "when": "2026-01-01T00:00:00Z", "flag": f"route.o{i}", "action": "on"}
            entry.update(before=None, after={"enabled": True}, prev_hash=prev)
            entry["hash"] = prev = entry_hash(entry)
            out.append(canonical(entry) + b"\n")
        self.audit.path.write_bytes(b"".join(out))
        self.audit.head_path.write_text(json.dumps({"entries": count, "hash": prev}))

    def entries(self) -> list[dict]:
        return [json.loads(line) for line in lines(self.audit)]

    def replace(self, entries: list[dict]) -> None:
        self.audit.path.write_bytes(b"".join(canonical(entry) + b"\n" for entry in entries))

    def replace_head(self, record: dict) -> None:
        self.audit.head_path.write_text(json.dumps(record))

    def verify(self):
        return self.audit.verify()

    def link_of(self, entry: dict) -> dict | None:
        return entry["before"] if entry.get("action") == LINK_ACTION else None


@pytest.mark.parametrize("tampering", TAMPERINGS.values(), ids=TAMPERINGS.keys())
def test_tampering_with_the_flags_log_is_caught(audit, tampering):
    tampering(FlagsLog(audit))


def test_an_unkeyed_flags_log_is_linked_to_a_keyed_chain_by_the_next_change(audit):
    legacy_chain_is_linked_then_vouched_for(FlagsLog(audit))


def test_each_entry_records_who_when_what_and_is_chained_to_the_one_before(audit):
    first = audit.append(
        who="alice@ops", flag="route.a", action="on", before={"enabled": False}, after={"enabled": True}
    )
    second = audit.append(
        who="bob@ops", flag="route.a", action="off", before={"enabled": True}, after={"enabled": False}
    )

    assert set(first) == {"who", "when", "flag", "action", "before", "after", "seq", "prev_hash", "hash"}
    assert (first["seq"], first["prev_hash"]) == (1, GENESIS)
    assert (second["seq"], second["prev_hash"]) == (2, first["hash"])
    assert second["hash"] == audit.key.entry_hash(second)
    assert [e["who"] for e in audit.entries()] == ["alice@ops", "bob@ops"]


def test_every_change_is_checkpointed_outside_the_log(audit):
    fill(audit, 3)
    checkpoints = audit.checkpoints.checkpoints(audit.chain)
    assert [c.seq for c in checkpoints] == [1, 2, 3]
    assert audit.checkpoints.path.parent != audit.path.parent
    assert audit.verify().checkpoints == 3


def test_an_empty_or_absent_log_verifies(audit):
    assert audit.verify().ok


@pytest.mark.parametrize("removed", [0, 2])
def test_a_removed_line_is_detected_at_the_line_after_it(audit, removed):
    fill(audit, 5)
    content = lines(audit)
    del content[removed]
    audit.path.write_text("".join(content))

    result = audit.verify()

    assert (result.ok, result.bad_line) == (False, removed + 1)
    assert "removed or reordered" in result.reason


def test_a_line_that_is_not_json_is_named(audit):
    fill(audit, 3)
    content = lines(audit)
    content[1] = content[1][:40] + "\n"
    audit.path.write_text("".join(content))

    assert (audit.verify().ok, audit.verify().bad_line) == (False, 2)


def test_a_deleted_log_is_caught_by_its_checkpoints(audit):
    fill(audit, 2)
    audit.path.unlink()
    audit.head_path.unlink()
    result = audit.verify()
    assert not result.ok
    assert "the log is empty but 2 entries were written" in result.reason


def test_the_configuration_names_key_and_checkpoint_store(tmp_path):
    env = {
        "FLAGS_FILE": str(tmp_path / "flags.json"),
        "FLAGS_AUDIT_KEY": "k" * 40,
        "FLAGS_AUDIT_CHECKPOINTS": "redis://127.0.0.1:6379/9",
        "DEBUG": "false",
    }
    audit = AuditLog.from_config(FlagsConfig.from_env(env))
    assert not audit.key.is_dev
    assert isinstance(audit.checkpoints, RedisCheckpoints)
    default = AuditLog.from_config(FlagsConfig.from_env({"FLAGS_FILE": str(tmp_path / "flags.json")}))
    assert default.key.is_dev
    assert isinstance(default.checkpoints, FileCheckpoints)


@pytest.mark.parametrize("key", ["", "dev-only-flags-audit-key-not-for-production"])
def test_the_development_key_is_refused_with_debug_off(tmp_path, key):
    env = {"FLAGS_FILE": str(tmp_path / "flags.json"), "FLAGS_AUDIT_KEY": key, "DEBUG": "false"}
    with pytest.raises(FlagsError, match="DEBUG is off but FLAGS_AUDIT_KEY") as caught:
        AuditLog.from_config(FlagsConfig.from_env(env))
    assert caught.value.code == "invalid_configuration"


def test_a_log_written_with_another_key_does_not_verify(audit, tmp_path):
    fill(audit, 2)
    other = AuditLog(audit.path, key=AuditKey("another-key-of-at-least-32-characters"))
    result = other.verify()
    assert (result.ok, result.bad_line) == (False, 1)


def _append_many(path: str, worker: int, count: int) -> None:
    log = AuditLog(Path(path))
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
    assert (result.entries, result.checkpoints) == (160, 160)
