"""`flags import F`: add or replace the flags of a features file; flags not in it stay as they are.
The whole file is validated against the Unleash feature format before anything is written."""

from pathlib import Path

from flags.audit import AuditLog
from flags.commands.results import ChangeResult, audit_changes
from flags.errors import FlagsError
from flags.features import parse_features
from flags.store import FlagStore


def flags_import(store: FlagStore, audit: AuditLog, *, path: Path, actor: str) -> ChangeResult:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise FlagsError("unreadable_file", f"cannot read {path}: {exc}") from None
    document = parse_features(text, str(path))
    changes = store.import_features(document)
    entries = audit_changes(audit, actor, "import", changes)
    return ChangeResult(action="import", location=store.location, changes=changes, audit_entries=entries)
