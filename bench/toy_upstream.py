"""A small HTTP service standing in for an upstream in rollout drills (tests, `make bench-rollback`):
every GET answers JSON; its error rate and added latency change while it runs (`PUT /_knobs`
{"error_rate": 0.05, "latency_ms": 50, "jitter_ms": 2, "seed": 1}). It also answers the gateway's identity
lookup (GET /api/v1/accounts/me): `Authorization: Token staff-<id>` is staff user <id>,
`Token user-<id>` customer <id>, anything else 401.

    python -m bench.toy_upstream --port 8101 --name product
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ME_PATH = "/api/v1/accounts/me"


class Knobs:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.error_rate = 0.0
        self.latency_ms = 0.0
        self.jitter_ms = 0.0
        self.rng = random.Random(0)
        self.served = 0

    def update(self, body: dict) -> dict:
        with self.lock:
            self.error_rate = float(body.get("error_rate", self.error_rate))
            self.latency_ms = float(body.get("latency_ms", self.latency_ms))
            self.jitter_ms = float(body.get("jitter_ms", self.jitter_ms))
            if "seed" in body:
                self.rng = random.Random(body["seed"])
            return self.view()

    def view(self) -> dict:
        return {
            "error_rate": self.error_rate,
            "latency_ms": self.latency_ms,
            "jitter_ms": self.jitter_ms,
            "served": self.served,
        }

    def draw(self) -> tuple[bool, float]:
        with self.lock:
            self.served += 1
            failed = self.rng.random() < self.error_rate
            delay = max(0.0, self.latency_ms + self.rng.uniform(-self.jitter_ms, self.jitter_ms)) / 1000
            return failed, delay


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: ToyServer

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _send(self, status: int, document: dict) -> None:
        payload = json.dumps(document).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def do_PUT(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        if self.path == "/_knobs":
            self._send(200, self.server.knobs.update(body))
        else:
            self._send(405, {"code": "method_not_allowed", "message": "GET only", "extra": {}})

    def do_GET(self) -> None:
        if self.path == "/_knobs":
            self._send(200, self.server.knobs.view())
            return
        if self.path.split("?")[0] == ME_PATH:
            token = (self.headers.get("Authorization") or "").removeprefix("Token ").strip()
            kind, _, user = token.partition("-")
            if kind in ("staff", "user") and user.isdigit():
                role = "staff" if kind == "staff" else "customer"
                self._send(200, {"id": int(user), "username": token, "role": role})
            else:
                self._send(401, {"code": "not_authenticated", "message": "no", "extra": {}})
            return
        failed, delay = self.server.knobs.draw()
        if delay:
            time.sleep(delay)
        if failed:
            self._send(500, {"code": "server_error", "message": "planted failure", "extra": {}})
        else:
            self._send(200, {"upstream": self.server.name, "path": self.path})

    do_HEAD = do_GET


class ToyServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(self, port: int, name: str) -> None:
        self.name = name
        self.knobs = Knobs()
        super().__init__(("127.0.0.1", port), Handler)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.toy_upstream")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--name", default="toy")
    args = parser.parse_args(argv)
    server = ToyServer(args.port, args.name)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
