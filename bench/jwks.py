"""The gateway's JWKS cache (contracts/jwks.py, JwksCache) against PyJWT's PyJWKClient, side by side in one
process, against a real HTTP JWKS endpoint on a free port.

Figures (medians of `--rounds` interleaved rounds of `--lookups` lookups each):
- `*_lookup_us`: one key lookup by kid with a warm cache, the call the gateway makes per Bearer request on
  its event loop (ours: `cached_key`, which never fetches; PyJWT: `get_signing_key`);
- `*_fetches_forged_kids`: JWKS fetches caused by 200 lookups of unknown kids within a second;
- `*_serves_during_outage`: whether a token's key is still found once the set's lifetime has passed while
  the endpoint is down (ours keeps the last good set; PyJWKClient raises).

    make bench-jwks BENCH_ARGS="--lookups 20000 --rounds 5"
"""

from __future__ import annotations

import argparse
import contextlib
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from jwt import PyJWKClient
from jwt.exceptions import PyJWKClientError
from rich.console import Console
from rich.table import Table

from bench.report import REPO_ROOT, emit_json_line, median, run_facts
from contracts.jwks import JwksCache
from kernel.crypto import generate_private_key, jwk_for_jwks, public_jwk, thumbprint


class JwksEndpoint:
    """A JWKS endpoint with one ES256 key and `Cache-Control: max-age`; `down` answers 503."""

    def __init__(self, max_age: int) -> None:
        jwk = public_jwk(generate_private_key().public_key())
        self.kid = thumbprint(jwk)
        self.body = json.dumps({"keys": [jwk_for_jwks(jwk, kid=self.kid)]}).encode()
        self.max_age, self.down, self.hits = max_age, False, 0
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                endpoint.hits += 1
                if endpoint.down:
                    self.send_response(503)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Cache-Control", f"max-age={endpoint.max_age}")
                self.send_header("Content-Length", str(len(endpoint.body)))
                self.end_headers()
                self.wfile.write(endpoint.body)

            def log_message(self, *args) -> None:
                pass

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.url = f"http://127.0.0.1:{port}/.well-known/jwks.json"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def lookup_us(lookup, kid: str, count: int) -> float:
    assert lookup(kid) is not None
    started = time.perf_counter()
    for _ in range(count):
        lookup(kid)
    return (time.perf_counter() - started) / count * 1e6


def forged_fetches(endpoint: JwksEndpoint, lookup, warm_kid: str) -> int:
    lookup(warm_kid)
    before = endpoint.hits
    for number in range(200):
        with contextlib.suppress(PyJWKClientError):
            lookup(f"forged-{number}")
    return endpoint.hits - before


def serves_during_outage(endpoint: JwksEndpoint, lookup, kid: str, lifetime: float) -> bool:
    endpoint.down = False
    lookup(kid)
    endpoint.down = True
    time.sleep(lifetime + 0.2)
    try:
        return lookup(kid) is not None
    except PyJWKClientError:
        return False
    finally:
        endpoint.down = False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.jwks", description=__doc__.split("\n\n")[0])
    parser.add_argument("--lookups", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--output", type=Path, default=REPO_ROOT / "var" / "bench" / "jwks.json")
    args = parser.parse_args(argv)
    endpoint = JwksEndpoint(max_age=300)
    try:
        ours = JwksCache(endpoint.url)
        pyjwt = PyJWKClient(endpoint.url)
        ours.key_for_kid(endpoint.kid)  # the gateway warms the set off the loop (key_for_kid in a thread)
        candidates = {"ours": ours.cached_key, "pyjwt": lambda kid: pyjwt.get_signing_key(kid).key}
        timings: dict[str, list[float]] = {name: [] for name in candidates}
        for round_number in range(args.rounds):
            for name in sorted(candidates, reverse=bool(round_number % 2)):
                timings[name].append(lookup_us(candidates[name], endpoint.kid, args.lookups))
        figures = {f"{name}_lookup_us": round(median(values), 2) for name, values in timings.items()}
        figures["lookup_ratio"] = round(figures["pyjwt_lookup_us"] / figures["ours_lookup_us"], 2)
        figures["ours_fetches_forged_kids"] = forged_fetches(
            endpoint, JwksCache(endpoint.url).key_for_kid, endpoint.kid
        )
        figures["pyjwt_fetches_forged_kids"] = forged_fetches(
            endpoint, PyJWKClient(endpoint.url).get_signing_key, endpoint.kid
        )
        endpoint.max_age = 1
        figures["ours_serves_during_outage"] = serves_during_outage(
            endpoint, JwksCache(endpoint.url, min_refetch_seconds=0.1).key_for_kid, endpoint.kid, 1.0
        )
        figures["pyjwt_serves_during_outage"] = serves_during_outage(
            endpoint, PyJWKClient(endpoint.url, lifespan=1.0).get_signing_key, endpoint.kid, 1.0
        )
    finally:
        endpoint.close()
    table = Table(title=f"JWKS key lookup ({args.lookups} lookups x {args.rounds} rounds)")
    for column in ("", "ours (JwksCache)", "PyJWKClient"):
        table.add_column(column)
    table.add_row("warm lookup, us", str(figures["ours_lookup_us"]), str(figures["pyjwt_lookup_us"]))
    table.add_row(
        "fetches for 200 forged kids",
        str(figures["ours_fetches_forged_kids"]),
        str(figures["pyjwt_fetches_forged_kids"]),
    )
    table.add_row(
        "key found with the endpoint down",
        str(figures["ours_serves_during_outage"]),
        str(figures["pyjwt_serves_during_outage"]),
    )
    Console(stderr=True).print(table)
    emit_json_line(
        {"bench": "jwks", **run_facts(), "lookups": args.lookups, "rounds": args.rounds, **figures},
        args.output,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
