"""The flags file: Unleash's client features JSON on disk, written atomically under a lock."""

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from flags.errors import FlagsError
from flags.features import parse_features, validate_features
from kernel.files import complete_temp_file, write_atomically


def dump_features(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def ensure_flags_file(path: Path, bootstrap: Path) -> bool:
    """Create the flags file from the bootstrap file if it does not exist yet; True if it was created.
    Safe against a concurrent creator: the file appears whole, once (hard link of a complete temp file)."""
    if path.exists():
        return False
    try:
        text = bootstrap.read_text(encoding="utf-8")
    except OSError as exc:
        raise FlagsError(
            "unreadable_file", f"cannot read the bootstrap flags file {bootstrap}: {exc}"
        ) from None
    parse_features(text, str(bootstrap))
    tmp = complete_temp_file(path, text)
    try:
        os.link(tmp, path)
    except FileExistsError:
        return False
    finally:
        Path(tmp).unlink(missing_ok=True)
    return True


class FlagsFile:
    """Reads and edits one flags file. Edits hold an exclusive lock on `<file>.lock`, so two commands
    never lose each other's change; readers need no lock because every write is an atomic replace."""

    def __init__(self, path: Path, bootstrap: Path) -> None:
        self.path = path
        self.bootstrap = bootstrap

    def read(self) -> dict[str, Any]:
        ensure_flags_file(self.path, self.bootstrap)
        try:
            text = self.path.read_text(encoding="utf-8")
        except OSError as exc:
            raise FlagsError("unreadable_file", f"cannot read the flags file {self.path}: {exc}") from None
        return parse_features(text, str(self.path))

    @contextmanager
    def locked(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_name(self.path.name + ".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    @contextmanager
    def editing(self) -> Iterator[dict[str, Any]]:
        """Yield the document to change in place; it is validated and written when the block ends."""
        with self.locked():
            document = self.read()
            before = json.dumps(document, sort_keys=True)
            yield document
            if json.dumps(document, sort_keys=True) != before:
                validate_features(document, str(self.path))
                write_atomically(self.path, dump_features(document))
