"""The audit chain's kernel: keys, sealing, the walk's reasons, checkpoint stores (a file and a real Redis)
and when a Checkpointer writes. The tampering suite itself runs against each real log (tests/flags,
tests/strangler_proxy, tests/extracted/auth_service) through tests/kernel/audit_tampering.py."""

from __future__ import annotations

import json
import logging
import os
import uuid

import pytest

from kernel.audit import (
    GENESIS,
    START,
    AuditConfigError,
    AuditKey,
    ChainHead,
    Checkpoint,
    Checkpointer,
    FileCheckpoints,
    RedisCheckpoints,
    canonical,
    head_record,
    open_checkpoints,
    seal,
    verify_chain,
)
from kernel.audit.verify import BAD_SEQ, MISSING, NO_CHECKPOINT

KEY = AuditKey("k" * 32)
REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"


def sealed(count: int, key: AuditKey = KEY, after: ChainHead = START) -> tuple[list[dict], ChainHead]:
    entries, head = [], after
    for number in range(count):
        entry = {"n": number}
        head = seal(key, entry, head)
        entries.append(entry)
    return entries, head


def lines(entries: list[dict]) -> list[bytes]:
    return [canonical(entry) for entry in entries]


@pytest.mark.parametrize("value", ["", "short"])
def test_a_key_shorter_than_32_characters_is_refused(value):
    with pytest.raises(AuditConfigError, match="32 characters"):
        AuditKey.from_setting(value, setting="X_AUDIT_KEY", dev_default="also-short", debug=True)


def test_the_development_key_is_refused_with_debug_off_and_used_with_debug_on():
    dev = "dev-only-" + "d" * 30
    with pytest.raises(AuditConfigError, match="DEBUG is off but X_AUDIT_KEY"):
        AuditKey.from_setting("", setting="X_AUDIT_KEY", dev_default=dev, debug=False)
    with pytest.raises(AuditConfigError, match="DEBUG is off"):
        AuditKey.from_setting(dev, setting="X_AUDIT_KEY", dev_default=dev, debug=False)
    assert AuditKey.from_setting("", setting="X_AUDIT_KEY", dev_default=dev, debug=True).is_dev
    chosen = AuditKey.from_setting("p" * 40, setting="X_AUDIT_KEY", dev_default=dev, debug=False)
    assert not chosen.is_dev
    assert "p" * 40 not in repr(chosen)


def test_sealed_entries_carry_seq_prev_hash_and_a_keyed_hash():
    entries, head = sealed(3)
    assert [e["seq"] for e in entries] == [1, 2, 3]
    assert entries[0]["prev_hash"] == GENESIS
    assert entries[2]["prev_hash"] == entries[1]["hash"]
    assert head == ChainHead(3, entries[2]["hash"])
    assert KEY.entry_hash(entries[1]) == entries[1]["hash"]
    assert AuditKey("z" * 32).entry_hash(entries[1]) != entries[1]["hash"]


def test_a_chain_verifies_without_head_or_store_when_the_log_keeps_none():
    entries, _ = sealed(4)
    assert verify_chain(KEY, [("", lines(entries))]).to_dict() == {
        "ok": True,
        "entries": 4,
        "bad_line": None,
        "reason": "",
        "checkpoints": 0,
    }


def test_a_gap_in_seq_that_the_hashes_cover_is_named():
    entries, head = sealed(2)
    skipped = {"n": 9}
    seal(KEY, skipped, ChainHead(head.seq + 1, head.hash))  # seq 4 after 2, chained to 2
    result = verify_chain(KEY, [("", lines([*entries, skipped]))])
    assert (result.ok, result.bad_line, result.reason) == (False, 3, BAD_SEQ)


def test_an_open_start_accepts_a_chain_whose_beginning_was_rotated_away(tmp_path):
    store = FileCheckpoints(tmp_path / "c.jsonl")
    entries, head = sealed(6)
    store.add(Checkpoint.make(KEY, "c", ChainHead(2, entries[1]["hash"])))  # names a line rotated away
    store.add(Checkpoint.make(KEY, "c", head))
    kept = lines(entries[3:])
    assert not verify_chain(KEY, [("", kept)], store=store, chain="c").ok
    result = verify_chain(KEY, [("", kept)], store=store, chain="c", open_start=True)
    assert (result.ok, result.entries, result.checkpoints) == (True, 3, 1)


def test_a_deleted_log_whose_head_or_checkpoints_remain_is_caught(tmp_path):
    store = FileCheckpoints(tmp_path / "c.jsonl")
    _, head = sealed(3)
    store.add(Checkpoint.make(KEY, "c", head))
    result = verify_chain(KEY, [], head=MISSING, store=store, chain="c")
    assert (result.ok, result.bad_line) == (False, 1)
    assert "the log is empty but 3 entries were written" in result.reason
    assert verify_chain(KEY, [], head=head_record(KEY, head)).ok is False
    assert verify_chain(KEY, [], head=MISSING, store=FileCheckpoints(tmp_path / "none"), chain="c").ok


def test_a_keyed_chain_with_a_store_but_no_checkpoint_is_not_anchored(tmp_path):
    entries, head = sealed(2)
    result = verify_chain(
        KEY,
        [("", lines(entries))],
        head=head_record(KEY, head),
        store=FileCheckpoints(tmp_path / "c"),
        chain="c",
    )
    assert (result.ok, result.reason) == (False, NO_CHECKPOINT)


def test_file_checkpoints_keep_each_chain_apart_in_order(tmp_path):
    store = FileCheckpoints(tmp_path / "deep" / "checkpoints.jsonl")
    assert store.checkpoints("a") == []
    assert store.latest("a") is None
    for seq in (1, 5, 3):
        store.add(Checkpoint.make(KEY, "a", ChainHead(seq, f"{seq:064d}")))
    store.add(Checkpoint.make(KEY, "b", ChainHead(7, "b" * 64)))
    assert [c.seq for c in store.checkpoints("a")] == [1, 3, 5]
    assert store.latest("b").hash == "b" * 64
    assert all(c.signed_by(KEY) for c in store.checkpoints("a"))


def test_a_checkpoint_store_holding_something_else_fails_verify_with_its_name(tmp_path):
    store = FileCheckpoints(tmp_path / "checkpoints.jsonl")
    store.path.write_text('{"chain": "a", "seq": "one"}\n')
    entries, _ = sealed(1)
    result = verify_chain(KEY, [("", lines(entries))], store=store, chain="a")
    assert not result.ok
    assert "checkpoints.jsonl holds a line that is not a checkpoint" in result.reason


@pytest.fixture
def redis_store():
    prefix = f"test:audit:{uuid.uuid4().hex}:"
    store = RedisCheckpoints(REDIS_URL, prefix=prefix, keep=3)
    yield store
    for key in store.client.scan_iter(f"{prefix}*"):
        store.client.delete(key)


def test_redis_checkpoints_are_one_capped_list_per_chain(redis_store):
    for seq in range(1, 6):
        redis_store.add(Checkpoint.make(KEY, "gw", ChainHead(seq, f"{seq:064d}")))
    redis_store.add(Checkpoint.make(KEY, "other", ChainHead(1, "1" * 64)))
    assert [c.seq for c in redis_store.checkpoints("gw")] == [3, 4, 5]
    assert redis_store.latest("gw").seq == 5
    assert [c.chain for c in redis_store.checkpoints("other")] == ["other"]
    assert "@" not in str(redis_store)


def test_an_unreachable_redis_store_fails_verify_and_never_holds_back_the_writer(caplog):
    store = RedisCheckpoints("redis://127.0.0.1:1/0")
    entries, head = sealed(1)
    result = verify_chain(KEY, [("", lines(entries))], store=store, chain="gw")
    assert not result.ok
    assert result.reason.startswith("cannot read the checkpoint store redis://127.0.0.1:1/0")
    with caplog.at_level(logging.WARNING):
        assert Checkpointer(store, KEY, "gw").note(head) is None
    assert "audit checkpoint of gw not written" in caplog.text


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("", FileCheckpoints),
        ("/somewhere/c.jsonl", FileCheckpoints),
        ("file:///somewhere/c.jsonl", FileCheckpoints),
        ("redis://127.0.0.1:6379/3", RedisCheckpoints),
    ],
)
def test_a_checkpoint_store_is_named_by_a_path_or_a_url(url, kind, tmp_path):
    assert isinstance(open_checkpoints(url, default=tmp_path / "default.jsonl"), kind)


def test_an_unknown_checkpoint_store_url_is_refused(tmp_path):
    with pytest.raises(AuditConfigError, match="redis://"):
        open_checkpoints("mongodb://x/y", default=tmp_path / "c")


def test_a_checkpointer_writes_the_first_entry_then_periodically_and_when_forced(tmp_path):
    now = [1000.0]
    store = FileCheckpoints(tmp_path / "c.jsonl")
    checkpointer = Checkpointer(store, KEY, "c", every_seconds=10, clock=lambda: now[0])
    written = []
    for seq, advance, force in [
        (1, 0, False),
        (2, 5, False),
        (3, 6, False),
        (4, 1, True),
        (4, 0, True),
        (5, 1, False),
    ]:
        now[0] += advance
        if checkpointer.note(ChainHead(seq, f"{seq:064d}"), force=force):
            written.append(seq)
    assert written == [1, 3, 4]
    assert [c.seq for c in store.checkpoints("c")] == [1, 3, 4]
    # a new writer of the same chain starts from the store's latest checkpoint, not from nothing
    fresh = Checkpointer(store, KEY, "c", every_seconds=3600)
    assert fresh.note(ChainHead(4, "4" * 64)) is None
    assert json.loads(store.path.read_text().splitlines()[-1])["seq"] == 4
