"""`flags import F`: add or replace the flags of a features file; flags not in it stay as they are.
The whole file is validated against the Unleash feature format before anything is written."""

from pathlib import Path

from flags.audit import AuditLog
from flags.commands.results import ChangeResult, audit_changes
from flags.errors import FlagsError, UnknownFlag
from flags.features import FlagState, parse_features
from flags.gates import RaiseRequest, check_raise, effective_percentage
from flags.store import FlagStore


def flags_import(
    store: FlagStore,
    audit: AuditLog,
    *,
    path: Path,
    actor: str,
    force: bool = False,
    reason: str | None = None,
) -> ChangeResult:
    """Every flag the file raises (more users than now) must pass its gates first (flags/gates.py)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise FlagsError("unreadable_file", f"cannot read {path}: {exc}") from None
    document = parse_features(text, str(path))
    notes = {}
    for feature in document["features"]:
        try:
            before = effective_percentage(store.get_flag(feature["name"]))
        except UnknownFlag:
            before = 0
        after = effective_percentage(FlagState.from_feature(feature))
        request = RaiseRequest(feature["name"], before, after, actor)
        notes[feature["name"]] = check_raise(request, force=force, reason=reason).audit_note()
    changes = store.import_features(document)
    entries = audit_changes(audit, actor, "import", changes, notes)
    return ChangeResult(action="import", location=store.location, changes=changes, audit_entries=entries)
