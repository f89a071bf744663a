"""A small generic sync engine: an entity spec (keyset source query, translator, target client) and
the jobs that run over it (backfill; products/verify for the checksums). `sync users ...` plugs in by
writing one more spec."""

from .errors import SyncError, TargetRefused, TargetUnavailable
from .spec import EntitySpec, ImportResult, keyset_spec

__all__ = ["EntitySpec", "ImportResult", "SyncError", "TargetRefused", "TargetUnavailable", "keyset_spec"]
