"""Tampering every audit log must catch, written once and run against each log (the flags' file, the
gateway's rotated files, the Auth service's table) through a small adapter, `TamperTarget`: what an
attacker with write access to the log's storage does, in the log's own storage.

Each scenario writes FIVE entries through the log's real writer, tampers, and asserts what `verify` says.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from kernel.audit import (
    START,
    AuditKey,
    ChainHead,
    Checkpoint,
    CheckpointStore,
    Verification,
    entry_hash,
    seal,
)
from kernel.audit.verify import (
    BAD_HASH,
    BAD_LINK,
    CHECKPOINT_DIFFERS,
    CHECKPOINT_FORGED,
    HEAD_FORGED,
    NOT_KEYED,
)

ATTACKER_KEY = AuditKey("an-attacker-who-does-not-have-the-log-key")
WRITTEN = 5


class TamperTarget(Protocol):
    key: AuditKey
    store: CheckpointStore
    chain: str
    edit: tuple[str, Any]  # a field an attacker changes, and the value

    def write(self, count: int) -> None:
        """Append `count` entries through the log's own writer."""

    def write_legacy(self, count: int) -> None:
        """Write an unkeyed chain as the log's writer did before audit keys (SHA-256, no seq)."""

    def entries(self) -> list[dict[str, Any]]:
        """The stored entries, in chain order."""

    def replace(self, entries: list[dict[str, Any]]) -> None:
        """Store exactly these entries, in this order, in place of the log's."""

    def replace_head(self, record: dict[str, Any]) -> None:
        """Store this head record in place of the log's."""

    def verify(self) -> Verification: ...

    def link_of(self, entry: dict[str, Any]) -> dict[str, Any] | None:
        """The link fields a link entry carries (None for any other entry)."""


def rechain(entries: list[dict[str, Any]], key: AuditKey | None) -> tuple[list[dict[str, Any]], ChainHead]:
    """The entries chained again from the start: keyed with `key`, or unkeyed SHA-256 when None."""
    head, out = START, []
    for entry in entries:
        entry = {k: v for k, v in entry.items() if k not in ("hash", "prev_hash")}
        if key is None:
            entry["prev_hash"] = head.hash
            entry["hash"] = entry_hash(entry)
            head = ChainHead(head.seq + 1, entry["hash"])
        else:
            head = seal(key, entry, head)
        out.append(entry)
    return out, head


def signed_head(key: AuditKey, head: ChainHead) -> dict[str, Any]:
    from kernel.audit import head_record

    return head_record(key, head)


def edited(target: TamperTarget, entry: dict[str, Any]) -> dict[str, Any]:
    field, value = target.edit
    return {**entry, field: value}


def untouched_log_verifies(target: TamperTarget) -> None:
    target.write(WRITTEN)
    result = target.verify()
    assert (result.ok, result.entries) == (True, WRITTEN), result
    assert result.checkpoints >= 1


def edited_line(target: TamperTarget) -> None:
    target.write(WRITTEN)
    entries = target.entries()
    entries[2] = edited(target, entries[2])
    target.replace(entries)
    result = target.verify()
    assert (result.ok, result.bad_line) == (False, 3), result
    assert BAD_HASH in result.reason


def reordered_pair(target: TamperTarget) -> None:
    target.write(WRITTEN)
    entries = target.entries()
    entries[1], entries[2] = entries[2], entries[1]
    target.replace(entries)
    result = target.verify()
    assert (result.ok, result.bad_line) == (False, 2), result
    assert BAD_LINK in result.reason


def cut_tail(target: TamperTarget) -> None:
    target.write(WRITTEN)
    target.replace(target.entries()[:3])
    result = target.verify()
    assert (result.ok, result.bad_line) == (False, 4), result
    assert f"{WRITTEN} entries were written (cut)" in result.reason


def rewritten_without_the_key_as_an_unkeyed_chain(target: TamperTarget) -> None:
    target.write(WRITTEN)
    entries = target.entries()
    entries[1] = edited(target, entries[1])
    rewritten, head = rechain(entries, None)
    target.replace(rewritten)
    target.replace_head(signed_head(ATTACKER_KEY, head))
    result = target.verify()
    assert not result.ok, result
    assert result.reason == NOT_KEYED


def rewritten_with_another_key(target: TamperTarget) -> None:
    target.write(WRITTEN)
    entries = target.entries()
    entries[1] = edited(target, entries[1])
    rewritten, head = rechain(entries, ATTACKER_KEY)
    target.replace(rewritten)
    target.replace_head(signed_head(ATTACKER_KEY, head))
    result = target.verify()
    assert (result.ok, result.bad_line) == (False, 1), result
    assert BAD_HASH in result.reason


def rewritten_with_the_key_but_not_the_checkpoints(target: TamperTarget) -> None:
    """The key leaked, the checkpoint store did not: every hash and the head are right, and yet."""
    target.write(WRITTEN)
    entries = target.entries()
    entries[1] = edited(target, entries[1])
    rewritten, head = rechain(entries, target.key)
    target.replace(rewritten)
    target.replace_head(signed_head(target.key, head))
    result = target.verify()
    assert not result.ok, result
    assert CHECKPOINT_DIFFERS in result.reason
    assert 2 <= result.bad_line <= WRITTEN


def forged_checkpoint(target: TamperTarget) -> None:
    target.write(WRITTEN)
    last = target.entries()[-1]
    target.store.add(Checkpoint.make(ATTACKER_KEY, target.chain, ChainHead(WRITTEN, last["hash"])))
    result = target.verify()
    assert (result.ok, result.reason) == (False, CHECKPOINT_FORGED), result


def checkpoint_moved_from_another_chain(target: TamperTarget) -> None:
    target.write(WRITTEN)
    genuine = target.store.latest(target.chain)
    other = Checkpoint.make(target.key, "another-chain", ChainHead(genuine.seq + 1, "f" * 64))
    target.store.add(Checkpoint(target.chain, other.seq, other.hash, other.at, other.sig))
    result = target.verify()
    assert (result.ok, result.reason) == (False, CHECKPOINT_FORGED), result


def forged_head(target: TamperTarget) -> None:
    target.write(WRITTEN)
    entries = target.entries()
    target.replace(entries[:3])
    target.replace_head({"entries": 3, "hash": entries[2]["hash"], "sig": "0" * 64})
    result = target.verify()
    assert (result.ok, result.reason) == (False, HEAD_FORGED), result


TAMPERINGS: dict[str, Callable[[TamperTarget], None]] = {
    "untouched": untouched_log_verifies,
    "edited line": edited_line,
    "reordered pair": reordered_pair,
    "cut tail": cut_tail,
    "rewritten unkeyed": rewritten_without_the_key_as_an_unkeyed_chain,
    "rewritten with another key": rewritten_with_another_key,
    "rewritten with the key": rewritten_with_the_key_but_not_the_checkpoints,
    "forged checkpoint": forged_checkpoint,
    "checkpoint of another chain": checkpoint_moved_from_another_chain,
    "forged head": forged_head,
}


def legacy_chain_is_linked_then_vouched_for(target: TamperTarget) -> None:
    """Migration: an unkeyed chain does not verify as is; the next append links it to a keyed chain (its
    first entry names the old head), after which an edit of an old entry is caught at the link."""
    target.write_legacy(3)
    before = target.verify()
    assert (before.ok, before.reason) == (False, NOT_KEYED), before

    target.write(2)
    entries = target.entries()
    assert len(entries) == 6
    link = target.link_of(entries[3])
    assert link == {
        "scheme": "hmac-sha256",
        "legacy_scheme": "sha256",
        "legacy_entries": 3,
        "legacy_hash": entries[2]["hash"],
    }
    assert entries[3]["prev_hash"] == entries[2]["hash"]
    assert [target.link_of(entry) for entry in entries[4:]] == [None, None]
    after = target.verify()
    assert (after.ok, after.entries) == (True, 6), after

    legacy, _ = rechain([edited(target, entries[0]), *entries[1:3]], None)
    target.replace([*legacy, *entries[3:]])
    tampered = target.verify()
    assert (tampered.ok, tampered.bad_line) == (False, 4), tampered
    assert BAD_LINK in tampered.reason
