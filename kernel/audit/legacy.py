"""The unkeyed walk of chains written before audit keys, kept for the one log not yet on the keyed chain
(the Payment service's table, extracted/payment_service/audit.py). New logs seal with `chain.seal` and
verify with `verify.verify_chain`; this goes once that log moves over."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

from .chain import GENESIS, entry_hash
from .verify import BAD_HASH, BAD_LINK, NOT_JSON, Verification


@dataclass(frozen=True)
class ChainWalk:
    """Hashes of the lines walked, in order, and the first failure if the chain broke."""

    hashes: list[str]
    failure: Verification | None = None


def walk_chain(
    lines: Iterable[bytes], *, prev_hash: str | None = GENESIS, first_number: int = 1, where: str = ""
) -> ChainWalk:
    """Check that each line is a JSON object linked to the line before and hashing (unkeyed SHA-256) to
    its own `hash`; `prev_hash=None` accepts whatever the first line links to."""
    hashes: list[str] = []
    for number, raw in enumerate(lines, start=first_number):
        try:
            entry = json.loads(raw)
            if not isinstance(entry, dict):
                raise ValueError("not an object")
        except ValueError:
            return ChainWalk(hashes, Verification(False, number, number, where + NOT_JSON))
        if prev_hash is not None and entry.get("prev_hash") != prev_hash:
            return ChainWalk(hashes, Verification(False, number, number, where + BAD_LINK))
        if entry.get("hash") != entry_hash(entry):
            return ChainWalk(hashes, Verification(False, number, number, where + BAD_HASH))
        prev_hash = entry["hash"]
        hashes.append(prev_hash)
    return ChainWalk(hashes)
