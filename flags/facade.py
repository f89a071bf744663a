"""`Flags`: the one way the toolkit asks whether a flag is on for a request. No Django needed."""

import itertools
import logging
import os
import socket
from collections.abc import Mapping
from typing import Any

from UnleashClient import UnleashClient
from UnleashClient.utils import InstanceAllowType

from flags.caches import FlagsFileCache, MemoryCache
from flags.config import FlagsConfig
from flags.context import FlagContext
from flags.errors import FlagsError
from flags.flagsfile import ensure_flags_file

logger = logging.getLogger(__name__)
_instances = itertools.count(1)
# UnleashClient needs a URL even when it only reads its cache; nothing is ever sent to it.
_NO_SERVER_URL = "http://flags-file.invalid"


def _seconds(value: float) -> float | int:
    """UnleashClient reports the interval to the server in milliseconds; keep whole seconds whole."""
    return int(value) if float(value).is_integer() else value


class Flags:
    """Evaluates flags through UnleashClient (Unleash's own engine decides every strategy).

    Backends: the flags file (default; re-read when it changes, within `file_poll_interval`) or an
    Unleash server (`UNLEASH_URL`, polled every `refresh_interval`). Unknown flags are off, and so is
    every flag while a server has not answered yet: the safe side is the legacy path."""

    def __init__(self, config: FlagsConfig | None = None) -> None:
        self.config = config or FlagsConfig.from_env()
        instance_id = f"{self.config.app_name}-{socket.gethostname()}-{os.getpid()}-{next(_instances)}"
        if self.config.uses_server:
            if not self.config.client_token:
                raise FlagsError("invalid_configuration", "UNLEASH_URL is set, UNLEASH_CLIENT_TOKEN is not")
            self.backend = "unleash"
            self._client = UnleashClient(
                url=self.config.api_url,
                app_name=self.config.app_name,
                environment=self.config.environment,
                instance_id=instance_id,
                refresh_interval=_seconds(self.config.refresh_interval),
                custom_headers={"Authorization": self.config.client_token},
                request_timeout=max(1, int(self.config.request_timeout)),
                cache=MemoryCache(),
                multiple_instance_mode=InstanceAllowType.SILENTLY_ALLOW,
            )
            self._client.initialize_client()
        else:
            self.backend = "file"
            ensure_flags_file(self.config.flags_file, self.config.bootstrap_file)
            self.cache = FlagsFileCache(self.config.flags_file)
            self._client = UnleashClient(
                url=_NO_SERVER_URL,
                app_name=self.config.app_name,
                instance_id=instance_id,
                refresh_interval=_seconds(self.config.file_poll_interval),
                disable_metrics=True,
                disable_registration=True,
                cache=self.cache,
                multiple_instance_mode=InstanceAllowType.SILENTLY_ALLOW,
            )
            self._client.initialize_client(fetch_toggles=False)

    def is_enabled(self, name: str, context: FlagContext | Mapping[str, Any] | None = None) -> bool:
        """True when flag `name` is on for this context; False when it is off, unknown, or unreadable."""
        if context is None:
            context = FlagContext()
        elif not isinstance(context, FlagContext):
            context = FlagContext.from_mapping(context)
        return self._client.is_enabled(name, context.to_unleash())

    def known_flags(self) -> list[str]:
        return sorted(self._client.feature_definitions())

    def close(self) -> None:
        self._client.destroy()

    def __enter__(self) -> "Flags":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
