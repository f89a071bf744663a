"""UnleashClient caches. In UnleashClient 6.9 the yggdrasil engine holds the flags: a cache is only read when
a connector calls `load_from_cache()` (the offline connector does so every `refresh_interval`), so a cache
that re-reads the flags file when it changed makes a change visible at the next such call."""

import logging
import os
import threading
from typing import Any

from UnleashClient.cache import BaseCache
from UnleashClient.constants import FEATURES_URL
from yggdrasil_engine.engine import UnleashEngine

logger = logging.getLogger(__name__)


class MemoryCache(BaseCache):
    """Keeps what the client fetched from an Unleash server in memory (the stock FileCache writes to disk)."""

    def __init__(self) -> None:
        self._data: dict[str, Any] = {}

    def set(self, key: str, value: Any) -> None:
        self._data[key] = value

    def mset(self, data: dict) -> None:
        self._data.update(data)

    def get(self, key: str, default: Any | None = None) -> Any:
        return self._data.get(key, default)

    def exists(self, key: str) -> bool:
        return key in self._data

    def destroy(self) -> None:
        self._data.clear()


class FlagsFileCache(MemoryCache):
    """Serves the flags file as the client's features. The file is read again only when its stat signature
    (inode, size, mtime) changed, which an atomic replace always does. A file that is missing, unreadable
    or that the engine refuses keeps the last good text, so the client keeps the flags it had."""

    def __init__(self, path: os.PathLike[str] | str) -> None:
        super().__init__()
        self.path = os.fspath(path)
        self._signature: tuple[int, int, int] | None = None
        self._text: str | None = None
        self._lock = threading.Lock()
        self._scratch = UnleashEngine()
        self.reloads = 0
        self._reload()
        self.bootstrapped = self._text is not None

    def _reload(self) -> None:
        try:
            stat = os.stat(self.path)
            signature = (stat.st_ino, stat.st_size, stat.st_mtime_ns)
            if signature == self._signature:
                return
            with open(self.path, encoding="utf-8") as handle:
                text = handle.read()
        except OSError as exc:
            if self._signature is not None:
                logger.warning("flags file %s unreadable, keeping the last flags: %s", self.path, exc)
                self._signature = None
            return
        self._signature = signature
        self.reloads += 1
        try:  # only a document Unleash's engine loads replaces the flags the client has
            self._scratch.take_state(text)
        except Exception as exc:  # the engine raises whatever its parser raised
            logger.error("flags file %s not loaded, keeping the last flags: %s", self.path, exc)
            return
        self._text = text

    def get(self, key: str, default: Any | None = None) -> Any:
        if key != FEATURES_URL:
            return super().get(key, default)
        with self._lock:
            self._reload()
            return self._text if self._text is not None else default

    def set(self, key: str, value: Any) -> None:
        if key != FEATURES_URL:  # the file is the only source of features; nothing writes it through here
            super().set(key, value)

    def exists(self, key: str) -> bool:
        return self._text is not None if key == FEATURES_URL else super().exists(key)
