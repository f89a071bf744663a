import json
import threading

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, connections, transaction
from django.db.utils import InternalError

from extracted.auth_service.audit import Event, audit_record, audit_verify
from extracted.auth_service.models import AuditEntry, AuditHead

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
    with pytest.raises(CommandError, match="entry 1"):
        call_command("auth", "audit", "verify")


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
