"""The hash-chained audit log, once, for every log of the project: the flags (one file, `flags/audit.py`),
the gateway (rotated per-worker files, `strangler_proxy/audit.py`), the Auth service (a table,
`extracted/auth_service/audit.py`) and the Payment service (a table, through `chassis/audit_table.py`).
Each keeps its own storage and chain; all of them seal entries, keep a signed head, write signed
checkpoints and verify with this package, so `verify` gives the same result type and the same reasons.

- `chain`: entries keyed with HMAC-SHA256 (one key per log, from its own environment variable; the
  development default refused with DEBUG off), `seq`/`prev_hash`/`hash`, and the link entry that
  continues an unkeyed chain written before keys.
- `checkpoints`: signed (entries, last hash, time) records in a store that is not the log's own (a file
  elsewhere, Redis, the Auth service's table), written by a `Checkpointer` periodically.
- `verify`: the walk, held against the head record and the checkpoints.
- `files`: the JSON-lines file helpers the flags and the gateway share.

What a verify catches: an edited, removed, reordered or unparseable entry (the chain); entries cut from
the end (the head record, and any checkpoint past the new end); a log rewritten without the key (no
entry's MAC checks); a log rewritten with the key but without the checkpoint store (the checkpoints name
hashes the rewrite does not have); a forged checkpoint or head (signatures). What it cannot: a tail cut by
someone holding the key, made after the last checkpoint and with the head record rewritten to match.
"""

from .chain import (
    GENESIS,
    SCHEME,
    START,
    AuditConfigError,
    AuditKey,
    ChainHead,
    canonical,
    classify,
    entry_hash,
    head_after,
    head_record,
    link_fields,
    seal,
)
from .checkpoints import (
    Checkpoint,
    Checkpointer,
    CheckpointStore,
    CheckpointStoreError,
    FileCheckpoints,
    RedisCheckpoints,
    open_checkpoints,
)
from .verify import MISSING, Verification, verify_chain

__all__ = [
    "GENESIS",
    "MISSING",
    "SCHEME",
    "START",
    "AuditConfigError",
    "AuditKey",
    "ChainHead",
    "Checkpoint",
    "CheckpointStore",
    "CheckpointStoreError",
    "Checkpointer",
    "FileCheckpoints",
    "RedisCheckpoints",
    "Verification",
    "canonical",
    "classify",
    "entry_hash",
    "head_after",
    "head_record",
    "link_fields",
    "open_checkpoints",
    "seal",
    "verify_chain",
]
