"""Feature flags for the migration: one facade over UnleashClient, a flags file or an Unleash server."""

from flags.config import FlagsConfig
from flags.context import FlagContext
from flags.errors import FlagsError
from flags.facade import Flags

__all__ = ["FlagContext", "Flags", "FlagsConfig", "FlagsError"]
