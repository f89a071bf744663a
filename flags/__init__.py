"""Feature flags for the migration: one facade over UnleashClient, a flags file or an Unleash server."""

from flags.config import FlagsConfig
from flags.context import FlagContext
from flags.errors import FlagsError
from flags.facade import Flags

__all__ = ["CLI_EXAMPLES", "FlagContext", "Flags", "FlagsConfig", "FlagsError"]

# How tests/test_commands_convention.py drives `python -m flags` (and `manage.py flags`) into each failure
# (CONVENTIONS.md): flags use no database and no broker.
CLI_EXAMPLES = {"bad_argument": ["audit", "--limit", "-1"]}
