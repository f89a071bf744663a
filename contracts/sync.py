"""What a service's `/internal/v1` import and verify endpoints answer a sync job (`sync <entity> ...`):
the counts of an import batch and the checksum of a verify range."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ImportResult:
    """What one import did: documents written, documents refused as not newer (older or equal
    version, or blocked by a tombstone), products deleted."""

    applied: int = 0
    stale: int = 0
    deleted: int = 0

    def __add__(self, other: ImportResult) -> ImportResult:
        return ImportResult(
            self.applied + other.applied, self.stale + other.stale, self.deleted + other.deleted
        )


@dataclass(frozen=True)
class RangeChecksum:
    lo: int
    hi: int
    count: int
    digest: str
