"""make drill-gateway-resources: what hostile clients can make a gateway worker hold.

One gateway worker (`python -m strangler_proxy --workers 1`, default limits) in front of a tiny local
upstream. The worker's RSS is read from /proc before, during (the peak, sampled every 50 ms) and after each
attack, after a short settle:
- `--heads` requests whose head is one 64 MB header, sent as fast as the socket takes it;
- `--slow` connections (10,000 by default) that each send part of a request line and then dribble.
The drill passes when the worker answers a normal request afterwards and its RSS is back within 10% of the
baseline. Prints a table and ends with one JSON line (also var/bench/gateway_resources.json).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from .report import emit_json_line, run_facts

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUTPUT = REPO_ROOT / "var" / "bench" / "gateway_resources.json"
HEAD_BYTES = 64 * 1024 * 1024


class _Ok(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args) -> None:
        pass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    raise RuntimeError(f"no VmRSS for {pid}")


def worker_pid(parent: int, timeout: float = 60.0) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                with contextlib.suppress(OSError):
                    fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
                    if int(fields[1]) == parent:
                        return int(entry)
        time.sleep(0.1)
    raise RuntimeError("the gateway worker did not start")


def ask(port: int) -> int:
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(b"GET /_strangler/health HTTP/1.1\r\nHost: drill\r\nConnection: close\r\n\r\n")
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/") else 0


class Peak:
    """Samples a process's RSS every 50 ms while in use; `.mb` is the highest."""

    def __init__(self, pid: int) -> None:
        self.pid, self.mb, self._stop = pid, 0.0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(OSError, RuntimeError):
                self.mb = max(self.mb, rss_mb(self.pid))
            time.sleep(0.05)

    def __enter__(self) -> Peak:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def huge_head(port: int) -> int:
    """Send one 64 MB header; the number of bytes the gateway took before it refused."""
    sent = 0
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        chunk = b"a" * 65536
        with contextlib.suppress(OSError):
            sock.sendall(b"GET / HTTP/1.1\r\nHost: drill\r\nX-Big: ")
            while sent < HEAD_BYTES:
                sock.sendall(chunk)
                sent += len(chunk)
    return sent


def slow_connections(port: int, count: int, hold: float) -> dict:
    """Open `count` connections sending half a request line and dribble on them for `hold` seconds; how
    many were answered 408 (head deadline), closed without an answer (connection cap) or still open."""
    held: list[socket.socket] = []
    try:
        for _ in range(count):
            with contextlib.suppress(OSError):
                sock = socket.create_connection(("127.0.0.1", port), timeout=5)
                sock.setblocking(False)
                with contextlib.suppress(OSError):
                    sock.send(b"GET /slow HTTP/1.1\r\nX-A: ")
                held.append(sock)
        deadline = time.monotonic() + hold
        while time.monotonic() < deadline:
            for sock in held:
                with contextlib.suppress(OSError):
                    sock.send(b"a")
            time.sleep(1.0)
        outcome = {"opened": len(held), "answered_408": 0, "closed": 0, "still_open": 0}
        for sock in held:
            try:
                data = sock.recv(65536)
            except BlockingIOError:
                outcome["still_open"] += 1
                continue
            except OSError:
                data = b""
            outcome["answered_408" if data.startswith(b"HTTP/1.1 408") else "closed"] += 1
        return outcome
    finally:
        for sock in held:
            sock.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.gateway_resources", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--heads", type=int, default=5, help="64 MB heads sent (5)")
    parser.add_argument("--slow", type=int, default=10_000, help="slow connections (10000)")
    parser.add_argument("--hold", type=float, default=15.0, help="seconds the slow connections dribble (15)")
    parser.add_argument("--settle", type=float, default=5.0, help="seconds before the 'after' reading (5)")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)

    upstream = ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    upstream_url = f"http://127.0.0.1:{upstream.server_address[1]}"
    work = Path(tempfile.mkdtemp(prefix="gateway-resources-"))
    shutil.copy(REPO_ROOT / "flags" / "bootstrap" / "features.json", work / "flags.json")
    port = free_port()
    env = {**os.environ, "FLAGS_FILE": str(work / "flags.json"), "MONOLITH_URL": upstream_url,
           "GATEWAY_AUDIT_LOG": str(work / "audit.jsonl"), "PYTHONPATH": str(REPO_ROOT)}  # fmt: skip
    argv_gateway = [sys.executable, "-m", "strangler_proxy", "--listen", f"127.0.0.1:{port}",
                    "--workers", "1", "--upstream", upstream_url, "--addons", "gateway"]  # fmt: skip
    with open(work / "gateway.log", "wb") as log:
        gateway = subprocess.Popen(argv_gateway, cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        worker = worker_pid(gateway.pid)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError, ValueError, IndexError):
                if ask(port) == 200:
                    break
            time.sleep(0.2)
        for _ in range(20):  # warm up, so the baseline is a serving worker's
            ask(port)
        baseline = rss_mb(worker)
        with Peak(worker) as heads_peak:
            taken = [huge_head(port) for _ in range(args.heads)]
        time.sleep(args.settle)
        after_heads = rss_mb(worker)
        with Peak(worker) as slow_peak:
            slow = slow_connections(port, args.slow, args.hold)
        time.sleep(args.settle)
        after_slow = rss_mb(worker)
        answered = ask(port)
        report = {
            "bench": "gateway_resources",
            "rss_mb": {
                "baseline": baseline,
                "heads_peak": heads_peak.mb,
                "after_heads": after_heads,
                "slow_peak": slow_peak.mb,
                "after_slow": after_slow,
            },
            "head_bytes_taken_max": max(taken) if taken else 0,
            "slow_connections": slow,
            "after_within_10_percent": max(after_heads, after_slow) <= baseline * 1.10,
            "answers_afterwards": answered == 200,
            "settings": {
                "heads": args.heads,
                "head_bytes": HEAD_BYTES,
                "slow": args.slow,
                "hold_s": args.hold,
            },
            "env": run_facts(),
        }
    finally:
        gateway.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            gateway.wait(15)
        upstream.shutdown()
        shutil.rmtree(work, ignore_errors=True)
    rss = report["rss_mb"]
    print(f"worker RSS MB: baseline {rss['baseline']}, 64 MB heads peak {rss['heads_peak']}"
          f" -> {rss['after_heads']}, {slow['opened']} slow connections peak {rss['slow_peak']}"
          f" -> {rss['after_slow']}")  # fmt: skip
    print(emit_json_line(report, args.output))
    return 0 if report["after_within_10_percent"] and report["answers_afterwards"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
