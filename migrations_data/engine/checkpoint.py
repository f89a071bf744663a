"""Checkpoints of resumable sync jobs (SyncCheckpoint rows): where a run stands, saved after every batch."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils import timezone

from migrations_data.models import SyncCheckpoint


@dataclass(frozen=True)
class Resume:
    last_id: int
    rows_done: int

    @property
    def resumed(self) -> bool:
        return self.last_id > 0


def checkpoint_start(*, name: str, restart: bool = False) -> Resume:
    """Where a run of job `name` starts: after the last id of an unfinished run, else from the start."""
    checkpoint, created = SyncCheckpoint.objects.get_or_create(
        name=name, defaults={"position": {"last_id": 0}}
    )
    if created or restart or checkpoint.finished_at is not None:
        SyncCheckpoint.objects.filter(pk=checkpoint.pk).update(
            position={"last_id": 0}, rows_done=0, started_at=timezone.now(), finished_at=None
        )
        return Resume(last_id=0, rows_done=0)
    return Resume(last_id=int(checkpoint.position.get("last_id", 0)), rows_done=checkpoint.rows_done)


def checkpoint_advance(*, name: str, last_id: int, rows_done: int) -> None:
    SyncCheckpoint.objects.filter(name=name).update(
        position={"last_id": last_id}, rows_done=rows_done, updated_at=timezone.now()
    )


def checkpoint_finish(*, name: str) -> None:
    SyncCheckpoint.objects.filter(name=name).update(finished_at=timezone.now(), updated_at=timezone.now())


def verify_record(*, entity: str, differences: int, clean: bool) -> None:
    """Remember a verify's outcome: `<entity>.verify` (the last one) and, when nothing differed (or all was
    repaired), `<entity>.verify.clean`. The evidence gates (control/gates) read the last clean one."""
    now = timezone.now()
    names = [f"{entity}.verify"] + ([f"{entity}.verify.clean"] if clean else [])
    for name in names:
        SyncCheckpoint.objects.update_or_create(
            name=name,
            defaults={
                "position": {"differences": differences, "clean": clean},
                "rows_done": differences,
                "finished_at": now,
            },
        )


def verify_last_clean(entity: str):
    """When the last clean verify of `entity` finished (None: never)."""
    row = SyncCheckpoint.objects.filter(name=f"{entity}.verify.clean").only("finished_at").first()
    return row.finished_at if row else None


def verify_last(entity: str) -> dict | None:
    """The last verify of `entity`: {"at", "clean", "differences"} (None: never verified)."""
    row = SyncCheckpoint.objects.filter(name=f"{entity}.verify").first()
    if row is None or row.finished_at is None:
        return None
    return {
        "at": row.finished_at,
        "clean": bool(row.position.get("clean")),
        "differences": int(row.position.get("differences", row.rows_done)),
    }


# A sync job's stop flag (`<entity>.stopped`): set when the module it syncs is decommissioned
# (`manage.py decommission apply`), cleared by `decommission restore`. `manage.py sync <entity> <action>`
# refuses to start while it is set, and a running follow or receive loop stops within seconds.


def sync_stop(*, entity: str, reason: str) -> None:
    SyncCheckpoint.objects.update_or_create(
        name=f"{entity}.stopped", defaults={"position": {"reason": reason}, "finished_at": timezone.now()}
    )


def sync_resume(*, entity: str) -> None:
    SyncCheckpoint.objects.filter(name=f"{entity}.stopped").delete()


def sync_stopped(entity: str) -> str | None:
    """Why `entity`'s sync jobs are stopped (None: they may run)."""
    row = SyncCheckpoint.objects.filter(name=f"{entity}.stopped").only("position").first()
    return None if row is None else str(row.position.get("reason") or "stopped")
