"""`flags export [--output F]`: all flags in Unleash's `/api/client/features` format."""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flags.flagsfile import dump_features
from flags.store import FlagStore
from kernel.files import write_atomically


@dataclass(frozen=True)
class ExportResult:
    location: str
    document: dict[str, Any]
    output: Path | None

    @property
    def text(self) -> str:
        return dump_features(self.document)


def flags_export(store: FlagStore, *, output: Path | None = None) -> ExportResult:
    result = ExportResult(location=store.location, document=store.export_features(), output=output)
    if output is not None:
        write_atomically(output, result.text)
    return result
