"""The auth audit log: a keyed hash chain in a table with a signed head row and signed checkpoints (the
table by default, or Redis); the shared tampering suite (tests/kernel/audit_tampering.py) runs on it."""

import base64
import json
import threading
from datetime import datetime

import pytest
from django.core.management import call_command
from django.db import connection, connections, transaction
from django.db.utils import InternalError

from contracts.cli import CheckFailed
from extracted.auth_service.audit import Event, audit_record, audit_setup, audit_verify, entry_document
from extracted.auth_service.models import AuditCheckpoint, AuditEntry, AuditHead
from kernel.audit import GENESIS, RedisCheckpoints, entry_hash
from tests.extracted.auth_service.test_keys import settings_in_a_subprocess
from tests.kernel.audit_tampering import TAMPERINGS, legacy_chain_is_linked_then_vouched_for

postgres_only = pytest.mark.skipif("connection.vendor != 'postgresql'")


def record_three():
    for number in range(3):
        audit_record(event=Event.LOGIN, outcome="failed", reason="invalid_credentials", username=f"u{number}")


def tamper(sql, params=()):
    """What someone with the database's owner rights could do: disable the append-only trigger."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "ALTER TABLE auth_service_audit_entry DISABLE TRIGGER auth_service_audit_append_only"
            )
        cursor.execute(sql, params)
        if connection.vendor == "postgresql":
            cursor.execute(
                "ALTER TABLE auth_service_audit_entry ENABLE TRIGGER auth_service_audit_append_only"
            )


def test_entries_are_chained_and_the_chain_verifies(db):
    record_three()
    entries = list(AuditEntry.objects.all())
    assert [e.seq for e in entries] == [1, 2, 3]
    assert entries[1].prev_hash == entries[0].hash
    assert entries[2].prev_hash == entries[1].hash
    assert audit_verify().ok
    assert (AuditHead.objects.get().entries, AuditHead.objects.get().hash) == (3, entries[2].hash)


def test_an_edited_entry_breaks_the_chain_at_that_entry(db):
    record_three()
    tamper("UPDATE auth_service_audit_entry SET outcome = 'ok', reason = '' WHERE seq = 2")
    result = audit_verify()
    assert (result.ok, result.bad_line) == (False, 2)
    assert "edited" in result.reason


def test_a_removed_entry_breaks_the_chain(db):
    record_three()
    tamper("DELETE FROM auth_service_audit_entry WHERE seq = 2")
    assert (audit_verify().ok, audit_verify().bad_line) == (False, 2)


def test_entries_cut_from_the_end_are_caught_by_the_head(db):
    record_three()
    tamper("DELETE FROM auth_service_audit_entry WHERE seq = 3")
    result = audit_verify()
    assert (result.ok, result.bad_line) == (False, 3)


@postgres_only
def test_postgresql_refuses_updates_and_deletes_of_entries(db):
    record_three()
    for statement in (
        "UPDATE auth_service_audit_entry SET reason = 'x'",
        "DELETE FROM auth_service_audit_entry",
    ):
        with (
            pytest.raises(InternalError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(statement)
    assert audit_verify().ok


def test_the_verify_command_exits_non_zero_on_a_broken_chain(db, capsys):
    record_three()
    call_command("auth", "audit", "verify", "--json")
    assert json.loads(capsys.readouterr().out)["ok"] is True
    tamper("UPDATE auth_service_audit_entry SET username = 'someone-else' WHERE seq = 1")
    with pytest.raises(CheckFailed, match="entry 1") as caught:  # exit 1 from the command line
        call_command("auth", "audit", "verify")
    assert caught.value.exit_code == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_appends_form_one_unbroken_chain():
    errors = []

    def append(worker: int) -> None:
        try:
            for number in range(10):
                audit_record(event=Event.LOGIN, username=f"w{worker}-{number}")
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=append, args=(worker,)) for worker in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert list(AuditEntry.objects.values_list("seq", flat=True)) == list(range(1, 41))
    assert audit_verify().ok


def store_rows(documents):
    """Put exactly these entry documents in the table, in this order (seq = position), as someone with the
    database owner's rights could."""
    tamper("DELETE FROM auth_service_audit_entry")
    AuditEntry.objects.bulk_create(
        AuditEntry(
            seq=position,
            occurred_at=datetime.fromisoformat(document["at"].replace("Z", "+00:00")),
            **{name: document[name] for name in ("event", "outcome", "reason", "username", "user_id")},
            **{name: document[name] for name in ("client_id", "ip", "data", "prev_hash", "hash")},
        )
        for position, document in enumerate(documents, start=1)
    )


class AuthLog:
    """The auth audit table as a tampering target."""

    edit = ("username", "someone-else")

    def __init__(self) -> None:
        self.key, checkpointer = audit_setup()
        self.store, self.chain = checkpointer.store, checkpointer.chain

    def write(self, count: int) -> None:
        for number in range(count):
            audit_record(
                event=Event.LOGIN, outcome="failed", reason="invalid_credentials", username=f"u{number}"
            )

    def write_legacy(self, count: int) -> None:
        """What audit_record wrote before audit keys: unkeyed SHA-256 rows and an unsigned head row."""
        prev, documents = GENESIS, []
        for number in range(count):
            document = {"seq": number + 1, "at": "2026-01-01T00:00:00.000000Z", "event": Event.LOGIN}
            document.update(outcome="ok", reason="", username=f"old{number}", user_id=None, client_id="")
            document.update(ip="", data={}, prev_hash=prev)
            document["hash"] = prev = entry_hash(document)
            documents.append(document)
        store_rows(documents)
        AuditHead.objects.update_or_create(id=1, defaults={"entries": count, "hash": prev, "signature": ""})

    def entries(self) -> list[dict]:
        return [entry_document(row) for row in AuditEntry.objects.order_by("seq")]

    def replace(self, entries: list[dict]) -> None:
        store_rows(entries)

    def replace_head(self, record: dict) -> None:
        AuditHead.objects.filter(id=1).update(
            entries=record["entries"], hash=record["hash"], signature=record.get("sig", "")
        )

    def verify(self):
        return audit_verify()

    def link_of(self, entry: dict) -> dict | None:
        return entry["data"] if entry["event"] == Event.AUDIT_LINK else None


@pytest.fixture
def auth_log(db, settings):
    settings.AUTH_AUDIT_CHECKPOINT_SECONDS = 0  # a checkpoint per entry, so a rewrite of any entry shows
    return AuthLog()


@pytest.mark.parametrize("tampering", TAMPERINGS.values(), ids=TAMPERINGS.keys())
def test_tampering_with_the_auth_log_is_caught(auth_log, tampering):
    tampering(auth_log)


def test_an_unkeyed_auth_log_is_linked_to_a_keyed_chain_by_the_next_append(auth_log):
    legacy_chain_is_linked_then_vouched_for(auth_log)


def test_checkpoints_are_periodic(db):
    record_three()
    assert list(AuditCheckpoint.objects.values_list("seq", flat=True)) == [1]  # then at most every 10 s
    assert audit_verify().checkpoints == 1


def append_then_fail() -> None:
    with transaction.atomic():
        audit_record(event=Event.LOGIN, username="rolled-back")
        raise RuntimeError("the request failed after its audit entry")


def test_a_rolled_back_entry_takes_its_checkpoint_with_it(db, settings):
    settings.AUTH_AUDIT_CHECKPOINT_SECONDS = 0
    record_three()
    with pytest.raises(RuntimeError):
        append_then_fail()
    assert list(AuditCheckpoint.objects.values_list("seq", flat=True)) == [1, 2, 3]
    assert audit_verify().ok


@postgres_only
def test_postgresql_refuses_updates_and_deletes_of_checkpoints(db):
    record_three()
    for statement in (
        "UPDATE auth_service_audit_checkpoint SET seq = 9",
        "DELETE FROM auth_service_audit_checkpoint",
    ):
        with (
            pytest.raises(InternalError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(statement)


def test_checkpoints_can_go_to_redis_after_the_commit(db, settings, django_capture_on_commit_callbacks):
    settings.AUTH_AUDIT_CHECKPOINTS = settings.REDIS_URL or "redis://127.0.0.1:6379/0"
    _, checkpointer = audit_setup()
    assert isinstance(checkpointer.store, RedisCheckpoints)
    checkpointer.store.client.delete(checkpointer.store.prefix + checkpointer.chain)  # the test DB's chain
    try:
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            audit_record(event=Event.LOGIN, username="ada")
            assert checkpointer.store.checkpoints(checkpointer.chain) == []  # not before the commit
        assert len(callbacks) == 1
        assert [c.seq for c in checkpointer.store.checkpoints(checkpointer.chain)] == [1]
        assert AuditCheckpoint.objects.count() == 0
        assert audit_verify().ok
    finally:
        checkpointer.store.client.delete(checkpointer.store.prefix + checkpointer.chain)


def test_production_refuses_the_development_audit_key(tmp_path):
    env = {
        "DEBUG": "false",
        "SECRET_KEY": "s" * 50,
        "INTERNAL_API_TOKEN": "t" * 40,
        "STRANGLER_VAR_DIR": str(tmp_path),
        "AUTH_KEY_ENCRYPTION_KEY": base64.urlsafe_b64encode(b"k" * 32).decode(),
    }
    refused = settings_in_a_subprocess(env)
    assert refused.returncode != 0
    assert "AUTH_AUDIT_KEY" in refused.stderr
    short = settings_in_a_subprocess({"AUTH_AUDIT_KEY": "short", "STRANGLER_VAR_DIR": str(tmp_path)})
    assert "AUTH_AUDIT_KEY: an audit key needs at least 32 characters" in short.stderr
