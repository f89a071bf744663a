"""Fixtures of the flags tests: a flags file in a temp dir, facades that are closed after the test, and
(from unleash_fixtures) a real Unleash server."""

import json
from pathlib import Path

import pytest

from flags import Flags, FlagsConfig
from flags.config import BOOTSTRAP_FILE
from flags.flagsfile import dump_features
from kernel.files import write_atomically
from tests.flags.unleash_fixtures import unleash_server  # noqa: F401 - a fixture


@pytest.fixture
def flags_config(tmp_path) -> FlagsConfig:
    return FlagsConfig(flags_file=tmp_path / "flags.json", audit_log=tmp_path / "flags-audit.log")


@pytest.fixture
def write_flags(flags_config):
    """Replace the flags file (atomically, as the commands do) with these features."""

    def write(*features: dict, path: Path | None = None) -> Path:
        target = path or flags_config.flags_file
        write_atomically(target, dump_features({"version": 2, "features": list(features)}))
        return target

    return write


@pytest.fixture
def make_flags(flags_config):
    """Build a Flags facade (default: over the test's flags file); every facade is closed after the test."""
    built: list[Flags] = []

    def make(config: FlagsConfig | None = None) -> Flags:
        flags = Flags(config or flags_config)
        built.append(flags)
        return flags

    yield make
    for flags in built:
        flags.close()


@pytest.fixture
def bootstrap_document() -> dict:
    return json.loads(BOOTSTRAP_FILE.read_text())
