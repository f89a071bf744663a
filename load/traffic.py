"""A stage's locust suite as a drill's traffic: locust headless as a subprocess against the gateway, running
until the drill stops it, each shopper paced so that together they send about `rate` requests a second, every
request's outcome (when, which request, status, the upstream that answered, error) read back as it happens
from the suite's exchanges file, so a drill's checks (what reached the candidate since a moment, status counts
per request and upstream) see what the suite did. `python -m load` runs the same suites for a fixed time.

    with SuiteTraffic(stage="2", host=gateway_url, rate=80, users=400, folder=tmp,
                      tokens=[f"Token user-{n}" for n in range(1, 401)]) as traffic:
        ...  # traffic.since(moment), traffic.counts(), traffic.errors
    traffic.result  # the suite's own statistics (load.__main__.LoadResult)
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from load.__main__ import ROOT, LoadError, LoadResult, read_stats, stage_file

ROW_KEYS = ("t", "method", "name", "status", "upstream", "ms", "error")  # load/journey.py's exchange lines


@dataclass(frozen=True)
class Exchange:
    """One request of the suite, as its shopper saw it (status 0: no answer at all)."""

    started: float
    method: str
    name: str
    status: int
    upstream: str
    ms: float
    error: str = ""


@dataclass
class SuiteTraffic:
    """`users` shoppers of the stage's suite (one credential each: `tokens`, or the customers of `users_file`
    logging in), about `rate` requests a second in all: each shopper runs rate / users / requests_per_task
    tasks a second (a task is one to three requests; the caller knows its stage's mean against its upstreams).
    `ceiling` bounds the run should the drill's process die without stopping it."""

    stage: str
    host: str
    rate: float
    users: int
    folder: Path
    tokens: list[str] | None = None
    users_file: Path | None = None
    requests_per_task: float = 1.0
    ceiling: str = "1h"
    env: dict[str, str] | None = None
    result: LoadResult | None = None
    _process: subprocess.Popen | None = None
    _exchanges: list[Exchange] = field(default_factory=list)
    _offset: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def exchanges_file(self) -> Path:
        return self.folder / "exchanges.jsonl"

    def start(self, *, first_within: float = 60.0) -> SuiteTraffic:
        """Start locust; return once the first request was answered (so a drill's first window has data)."""
        if self.tokens is None and self.users_file is None:
            raise LoadError("the drill's traffic needs its users: tokens or a users file")
        self.folder.mkdir(parents=True, exist_ok=True)
        self.exchanges_file.write_text("")
        env = {**os.environ, **(self.env or {}), "PYTHONPATH": str(ROOT)}
        env["LOAD_EXCHANGES_FILE"] = str(self.exchanges_file)
        env["LOAD_TASKS_PER_SECOND"] = f"{self.rate / self.users / self.requests_per_task:.6f}"
        if self.tokens is not None:
            tokens = self.folder / "tokens.txt"
            tokens.write_text("\n".join(self.tokens) + "\n")
            env["LOAD_TOKENS_FILE"] = str(tokens)
            env["LOAD_USERS_FILE"] = str(tokens)  # unused: a shopper with a token never logs in
        else:
            env["LOAD_USERS_FILE"] = str(self.users_file)
            env.pop("LOAD_TOKENS_FILE", None)
        # shoppers start spread over one pacing period, so their requests arrive evenly, not in waves
        spawn_rate = max(1.0, self.rate / self.requests_per_task)
        argv = [
            sys.executable, "-m", "locust", "-f", str(stage_file(self.stage)), "--headless",
            "--host", self.host, "-u", str(self.users), "-r", f"{spawn_rate:.3f}", "-t", self.ceiling,
            "--csv", str(self.folder / "stats"), "--only-summary", "--loglevel", "WARNING",
            "--exit-code-on-error", "0", "--stop-timeout", "5",
        ]  # fmt: skip
        with open(self.folder / "locust.log", "ab") as log:
            self._process = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + first_within
        while not self.exchanges():
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                tail = (self.folder / "locust.log").read_text(errors="replace")[-2000:]
                raise LoadError(f"the stage {self.stage} suite sent no request: {tail}")
            time.sleep(0.1)
        return self

    def _read(self) -> None:
        with self._lock, open(self.exchanges_file, "rb") as handle:
            handle.seek(self._offset)
            chunk = handle.read()
            complete = chunk.rfind(b"\n") + 1  # a line being written is read next time
            self._offset += complete
            for line in chunk[:complete].splitlines():
                row = json.loads(line)
                row["t"] = row["t"] or 0.0
                self._exchanges.append(Exchange(*(row[k] for k in ROW_KEYS)))

    def exchanges(self) -> list[Exchange]:
        self._read()
        with self._lock:
            return list(self._exchanges)

    def since(self, moment: float) -> list[Exchange]:
        """The requests started at or after `moment` (time.time())."""
        return [e for e in self.exchanges() if e.started >= moment]

    @property
    def errors(self) -> int:
        """Requests that got no answer at all (refused, reset, timed out)."""
        return sum(1 for e in self.exchanges() if e.status == 0)

    def counts(self, since: float = 0.0) -> dict[str, int]:
        """How many requests per request name, upstream and status: {"search product 200": 120, ...}."""
        found = Counter(f"{e.name} {e.upstream} {e.status}" for e in self.since(since))
        return dict(sorted(found.items()))

    def stop(self) -> LoadResult | None:
        """Stop the shoppers (SIGTERM: locust writes its statistics), then read the suite's summary."""
        process, self._process = self._process, None
        if process is None:
            return self.result
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
        self._read()
        result = LoadResult(stage=self.stage, users=self.users, duration="drill", host=self.host,
                            report_dir=str(self.folder))  # fmt: skip
        try:
            self.result = read_stats(result, self.folder)
        except LoadError:
            self.result = None
        return self.result

    def __enter__(self) -> SuiteTraffic:
        return self if self._process else self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
