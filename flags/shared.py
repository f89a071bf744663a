"""One Flags client per process, made on first use and closed at exit: for code that asks a flag now and
then from a long-running service (the Auth service's reset mail, the Order service's payment participant),
where making a client per call would start a polling thread each time."""

from __future__ import annotations

import atexit
import logging
import threading

from flags.facade import Flags

_instance: Flags | None = None
_lock = threading.Lock()


def shared_flags() -> Flags:
    global _instance
    if _instance is None:
        with _lock:
            if _instance is None:
                logging.getLogger("apscheduler").setLevel(logging.WARNING)  # the client's polling
                _instance = Flags()
                atexit.register(_instance.close)  # its polling thread ends before the interpreter
    return _instance


def replace_shared_flags(facade: Flags | None) -> Flags | None:
    """Put `facade` in place of the process's client (tests); returns the one it replaces (None: none yet)."""
    global _instance
    with _lock:
        previous, _instance = _instance, facade
    return previous
