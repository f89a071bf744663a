"""Container health probe: `python -m deploy.probe TARGET...`, exit 0 when every target answers, else 1 with
one line on stderr naming the first that did not.

A TARGET is a URL or the name of an environment variable holding one. http(s) URLs must answer 2xx to a GET;
any other URL (postgres://, amqp://, redis://, mongodb://) must accept a TCP connection. Workers have no HTTP
port, so their probe is "the services I need answer" (the container restarts when the process exits).
Standard library only: it runs in every container of the image, often.
"""

from __future__ import annotations

import os
import socket
import sys
import urllib.error
import urllib.request
from urllib.parse import urlsplit

TIMEOUT = 2.0
DEFAULT_PORTS = {"postgres": 5432, "postgresql": 5432, "amqp": 5672, "redis": 6379, "mongodb": 27017}


class ProbeFailed(Exception):
    pass


def resolve(target: str, env: dict[str, str] | os._Environ) -> str:
    if "://" in target:
        return target
    value = env.get(target, "")
    if not value:
        raise ProbeFailed(f"{target} is not set")
    return value


def check(url: str, timeout: float = TIMEOUT) -> None:
    parts = urlsplit(url)
    if parts.scheme in ("http", "https"):
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (http(s) only)
                response.read(65536)
        except urllib.error.HTTPError as exc:
            raise ProbeFailed(f"{url}: HTTP {exc.code}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise ProbeFailed(f"{url}: {getattr(exc, 'reason', exc)}") from None
        return
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        if parts.scheme in ("orm", "file", "filesystem", "sqlite"):
            return  # an embedded store: nothing to reach
        raise ProbeFailed(f"cannot probe {parts.scheme}:// URLs")
    address = (parts.hostname, parts.port or DEFAULT_PORTS[parts.scheme])
    try:
        with socket.create_connection(address, timeout=timeout):
            pass
    except OSError as exc:
        raise ProbeFailed(f"{parts.scheme}://{address[0]}:{address[1]}: {exc.strerror or exc}") from None


def main(argv: list[str] | None = None) -> int:
    targets = sys.argv[1:] if argv is None else argv
    if not targets:
        print("usage: python -m deploy.probe URL|ENV_VAR...", file=sys.stderr)
        return 2
    try:
        for target in targets:
            check(resolve(target, os.environ))
    except ProbeFailed as exc:
        print(f"probe: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
