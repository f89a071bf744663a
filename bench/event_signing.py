"""What a signed, checksummed event costs per event (issue 20): the SHA-256 content digest every event
carries, the ES256 signature of a critical event at its publisher's relay, and the consumer's checks.

Figures (microseconds per event, medians of `--rounds` interleaved rounds of `--events` events each, one
process, one core; a `payment.captured` envelope with a realistic `data` of ~0.5 KB):
- `digest_us_per_event`: canonical content bytes + SHA-256 (every event, at both ends);
- `sign_us_per_event`: what the relay's signer adds to a critical event (content bytes + ECDSA P-256 sign);
- `verify_us_per_event`: what the consumer's signature check adds (publisher table + ECDSA verify, the
  key from a warm JWKS cache);
- `parse_us_per_event`: `Envelope.from_json` of the signed body, its digest check included (the baseline
  every consumer paid before, without the digest, is `parse_no_digest_us_per_event`);
- `ecdsa_sign_us_per_event`, `ecdsa_verify_us_per_event`: `cryptography`'s bare P-256 sign and verify of
  the same bytes, the floor the two figures above sit on (their ratio to it is in the line too).

    make bench-events BENCH_ARGS="--events 2000 --rounds 5"
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import orjson
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from rich.console import Console
from rich.table import Table

from bench.report import REPO_ROOT, emit_json_line, median, run_facts
from contracts import event_trust
from contracts.events import CONTENT_FIELDS, Envelope, canonical_json, content_digest
from kernel.crypto import generate_private_key, public_jwk, thumbprint

SOURCE = "payment_service"


def payment_data(n: int) -> dict:
    return {
        "payment_id": 100000 + n,
        "order_id": 200000 + n,
        "order_number": f"TS-2026-{n:08d}",
        "status": "captured",
        "amount": "1249.90",
        "currency": "EUR",
        "method": "card",
        "provider": "northpay",
        "provider_reference": f"np_ch_{n:024d}",
        "card_last4": "4242",
        "card_brand": "visa",
        "captured_at": "2026-12-07T18:00:00.123456Z",
        "origin": "service",
        "version": 3,
        "attempts": [{"at": "2026-12-07T17:59:59Z", "outcome": "authorized", "latency_ms": 412}],
    }


def timed(work: Callable[[int], object], count: int) -> float:
    """Microseconds per call of work(i) for i in range(count)."""
    started = time.perf_counter()
    for i in range(count):
        work(i)
    return (time.perf_counter() - started) / count * 1e6


def measure(events: int, rounds: int) -> dict:
    key = generate_private_key()
    kid = thumbprint(public_jwk(key.public_key()))
    keys = {(SOURCE, kid): key.public_key()}

    def lookup(source: str, key_id: str):
        return keys.get((source, key_id))

    fresh = [Envelope.new("payment.captured", payment_data(i), source=SOURCE) for i in range(events)]
    signed = [event_trust.sign(e, kid=kid, key=key) for e in fresh]
    bodies = [e.to_json() for e in signed]
    parsed = [Envelope.from_json(b) for b in bodies]
    plain_docs = [{k: v for k, v in orjson.loads(b).items() if k in CONTENT_FIELDS} for b in bodies]
    assert all(event_trust.verify(e, lookup) is None for e in parsed[:10])

    def sign(i: int) -> None:  # a fresh envelope each time: its content bytes are computed, as at the relay
        e = fresh[i]
        event_trust.sign(
            Envelope(e.id, e.type, e.occurred_at, e.trace_id, e.source, e.data), kid=kid, key=key
        )

    def digest(i: int) -> None:
        content_digest(canonical_json(plain_docs[i]))

    def verify(i: int) -> None:
        event_trust.verify(parsed[i], lookup)

    def parse(i: int) -> None:
        Envelope.from_json(bodies[i])

    ecdsa = ec.ECDSA(hashes.SHA256())
    inputs = [e.signing_input() for e in parsed]
    raw = [key.sign(m, ecdsa) for m in inputs]
    public = key.public_key()

    def ecdsa_sign(i: int) -> None:
        key.sign(inputs[i], ecdsa)

    def ecdsa_verify(i: int) -> None:
        public.verify(raw[i], inputs[i], ecdsa)

    def parse_no_digest(i: int) -> None:  # what from_json did before: load + build + validate
        doc = orjson.loads(bodies[i])
        Envelope(doc["id"], doc["type"], parsed[i].occurred_at, doc["trace_id"], doc["source"], doc["data"])

    candidates = {
        "digest": digest,
        "sign": sign,
        "verify": verify,
        "parse": parse,
        "parse_no_digest": parse_no_digest,
        "ecdsa_sign": ecdsa_sign,
        "ecdsa_verify": ecdsa_verify,
    }
    timings: dict[str, list[float]] = {name: [] for name in candidates}
    for round_number in range(rounds):
        for name in sorted(candidates, reverse=bool(round_number % 2)):
            timings[name].append(timed(candidates[name], events))
    figures = {f"{name}_us_per_event": round(median(values), 2) for name, values in timings.items()}
    figures["sign_vs_ecdsa"] = round(figures["sign_us_per_event"] / figures["ecdsa_sign_us_per_event"], 2)
    figures["verify_vs_ecdsa"] = round(
        figures["verify_us_per_event"] / figures["ecdsa_verify_us_per_event"], 2
    )
    figures["event_bytes"] = len(bodies[0])
    figures["unsigned_event_bytes"] = len(fresh[0].to_json())
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.event_signing", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--output", type=Path, default=REPO_ROOT / "var" / "bench" / "event_signing.json")
    args = parser.parse_args(argv)
    figures = measure(args.events, args.rounds)
    table = Table(title=f"signed events, per event ({args.events} events x {args.rounds} rounds, medians)")
    table.add_column("step")
    table.add_column("us / event", justify="right")
    for name in ("digest", "sign", "verify", "parse", "parse_no_digest", "ecdsa_sign", "ecdsa_verify"):
        table.add_row(name, str(figures[f"{name}_us_per_event"]))
    Console(stderr=True).print(table)
    emit_json_line(
        {"bench": "event_signing", **run_facts(), "events": args.events, "rounds": args.rounds, **figures},
        args.output,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
