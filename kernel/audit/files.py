"""A chain kept in JSON-lines files (the flags' one file, the gateway's rotated files): reading lines, the
last entry, and the signed head record beside the log (`<log>.head`)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from kernel.files import write_atomically

from .chain import AuditKey, ChainHead, head_record
from .verify import MISSING


def head_path(log: Path) -> Path:
    return log.with_name(log.name + ".head")


def file_lines(path: Path) -> Iterator[bytes]:
    """The non-empty lines of a log file, without their newline."""
    with open(path, "rb") as handle:
        for line in handle:
            if line.strip():
                yield line.rstrip(b"\n")


def last_entry(path: Path) -> tuple[dict[str, Any] | None, int]:
    """(the last line as an object, or None when absent or unreadable; how many lines) of a log file."""
    last, count = None, 0
    if path.exists():
        for raw in file_lines(path):
            count += 1
            last = raw
    if last is None:
        return None, 0
    try:
        entry = json.loads(last)
    except ValueError:
        return {}, count
    return (entry if isinstance(entry, dict) else {}), count


def write_head(log: Path, key: AuditKey, head: ChainHead) -> None:
    write_atomically(head_path(log), json.dumps(head_record(key, head)) + "\n")


def stored_head(log: Path) -> Any:
    """The head record beside `log` as stored (a dict, or whatever the file holds), MISSING if absent."""
    path = head_path(log)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return MISSING
    except (OSError, ValueError):
        return {}


def default_checkpoints(log: Path) -> Path:
    """Where a file log's checkpoints go when its setting names no store: `checkpoints/<log>.checkpoints`
    beside it. Another file, but on the same disk: production points the setting elsewhere."""
    return log.parent / "checkpoints" / f"{log.name}.checkpoints"
