"""Helpers for tests that run real long-lived processes against a real RabbitMQ (any pytest session).

- `rabbitmq_vhost()`: a virtual host of the test's own (its exchanges and queues die with it), so tests of
  several engineers never share a queue.
- `background(argv, env, log_path)`: a long-running child (relay, consumer, worker) in its own process
  group, stopped on the way out.
- `wait_until(condition, what)`: poll with a deadline (a deadline, never an assertion on speed).
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from legacy_monolith.demo.processes import stop_process_group
from legacy_monolith.demo.services import rabbitmq_vhost

WAIT = 180.0
__all__ = ["WAIT", "background", "rabbitmq_vhost", "wait_until"]


@contextmanager
def background(argv: list[str], env: dict[str, str], log_path) -> Iterator[subprocess.Popen]:
    """A long-running child (relay, consumer, worker) in its own process group, stopped on the way out."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            argv, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        yield process
    finally:
        stop_process_group(process)


def wait_until(condition: Callable[[], bool], what: str, timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what} after {timeout:.0f} s")
        time.sleep(0.2)
