"""Generic verify: range checksums on both sides, drill-down to the exact differing ids.

The id space [0, MAX) is cut into ranges of `range_size` ids up to the source's largest id, plus one
tail range above it (ids the target has and the source never had). A source whose ids sit in separate
blocks (users: the monolith's ids, and the block of users registered at the Auth service) names them
(`source_spans`): each block is cut into ranges, and each gap between blocks is one range. The source
side streams every row once in id order (digest per row, digest per range); meanwhile a thread asks the
target for the checksums of the same ranges, many ranges per call. A range whose count or digest differ
is drilled into: wide ranges (the tail) are split and checked again, narrow ones compared id by id.
"""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from hashlib import blake2b
from itertools import pairwise

# (lo, hi, count, digest) of one id range: the verify contract the Product service defines.
from contracts.sync import RangeChecksum

MAX_ID = 2**63 - 1
SPLIT_FACTOR = 16

Range = tuple[int, int]


@dataclass(frozen=True)
class VerifySides:
    """Both sides of one entity as verify sees them.

    - `source_max_id()`: the largest source id (0 when empty);
    - `source_stream(lo, hi)`: (id, digest) of the source rows with lo <= id < hi, ascending id;
    - `source_digests(lo, hi)`: {id: digest} of the source rows with lo <= id < hi;
    - `target_checksums(ranges)`: one RangeChecksum per range, same order;
    - `target_digests(lo, hi)`: {id: digest} of the target's documents in the range;
    - `source_spans()` (optional): the (lowest, highest) id of each populated block of source ids,
      ascending; when given, ranges are planned over the blocks instead of [0, source_max_id()].
    """

    source_max_id: Callable[[], int]
    source_stream: Callable[[int, int], Iterator[tuple[int, str]]]
    source_digests: Callable[[int, int], dict[int, str]]
    target_checksums: Callable[[list[Range]], list[RangeChecksum]]
    target_digests: Callable[[int, int], dict[int, str]]
    source_spans: Callable[[], list[Range]] | None = None


@dataclass
class VerifyReport:
    entity: str
    source_rows: int = 0
    target_rows: int = 0
    ranges: int = 0
    differing_ranges: int = 0
    missing: list[int] = field(default_factory=list)  # in the source, not in the target
    extra: list[int] = field(default_factory=list)  # in the target, not in the source
    different: list[int] = field(default_factory=list)  # in both, documents differ
    seconds: float = 0.0
    repaired: dict | None = None
    also: list[VerifyReport] = field(
        default_factory=list
    )  # checks that go with this one (products: movements)

    @property
    def clean(self) -> bool:
        """Nothing differs (or everything was repaired), here and in the checks that go with it."""
        own = self.differences == 0 or (self.repaired is not None and self.repaired["remaining"] == 0)
        return own and all(other.clean for other in self.also)

    @property
    def differences(self) -> int:
        return len(self.missing) + len(self.extra) + len(self.different)

    def as_dict(self) -> dict:
        return {
            "entity": self.entity,
            "source_rows": self.source_rows,
            "target_rows": self.target_rows,
            "ranges": self.ranges,
            "differing_ranges": self.differing_ranges,
            "differences": self.differences,
            "missing": self.missing,
            "extra": self.extra,
            "different": self.different,
            "seconds": round(self.seconds, 3),
            "repaired": self.repaired,
            **({"also": [other.as_dict() for other in self.also]} if self.also else {}),
        }


def digest_of_pairs(pairs: list[tuple[int, str]]) -> str:
    hasher = blake2b(digest_size=16)
    for item_id, digest in pairs:
        hasher.update(f"{item_id}:{digest}\n".encode())
    return hasher.hexdigest()


def plan_ranges(max_id: int, range_size: int) -> list[Range]:
    """[0, W), [W, 2W), ... up to the range holding max_id, then the tail up to MAX_ID."""
    return plan_span_ranges([(0, max_id)], range_size)


def plan_span_ranges(spans: list[Range], range_size: int) -> list[Range]:
    """Contiguous ranges over [0, MAX_ID): W-wide ones (aligned on W) over each span (lowest, highest
    id, inclusive), one range for each gap between spans, then the tail."""
    ranges: list[Range] = []
    covered = 0
    for lo, hi in sorted(spans):
        start = max(covered, lo // range_size * range_size)
        top = (hi // range_size + 1) * range_size
        if top <= covered:
            continue
        if start > covered:
            ranges.append((covered, start))
        edges = [*range(start, top, range_size), top]
        ranges.extend(pairwise(edges))
        covered = top
    return [*ranges, (covered, MAX_ID)]


def source_range_checksums(stream: Iterator[tuple[int, str]], ranges: list[Range]) -> list[RangeChecksum]:
    """Fold the ascending (id, digest) stream into the planned ranges."""
    out: list[RangeChecksum] = []
    index = 0
    lo, hi = ranges[0]
    hasher, count = blake2b(digest_size=16), 0
    for item_id, digest in stream:
        while item_id >= hi:
            out.append(RangeChecksum(lo, hi, count, hasher.hexdigest()))
            index += 1
            lo, hi = ranges[index]
            hasher, count = blake2b(digest_size=16), 0
        hasher.update(f"{item_id}:{digest}\n".encode())
        count += 1
    out.append(RangeChecksum(lo, hi, count, hasher.hexdigest()))
    for lo, hi in ranges[index + 1 :]:
        out.append(RangeChecksum(lo, hi, 0, blake2b(digest_size=16).hexdigest()))
    return out


def verify_entity(
    entity: str,
    sides: VerifySides,
    *,
    range_size: int = 1000,
    ranges_per_call: int = 1000,
    max_span: int = 100_000,
    jobs: int = 1,
) -> VerifyReport:
    """`max_span`: the widest range the target's drill-down answers id by id (at least range_size).
    `jobs` > 1: that many forked processes compute the source side, each over its own blocks of ranges,
    while threads fetch the target's checksums."""
    max_span = max(max_span, range_size)
    began = time.perf_counter()
    report = VerifyReport(entity=entity)
    if sides.source_spans is not None:
        ranges = plan_span_ranges(sides.source_spans(), range_size)
    else:
        ranges = plan_ranges(sides.source_max_id(), range_size)
    report.ranges = len(ranges)
    chunks = [ranges[i : i + ranges_per_call] for i in range(0, len(ranges), ranges_per_call)]
    with _source_pool(sides, jobs) as processes:
        blocks = _blocks(ranges, jobs * 4) if processes else [ranges]
        source_parts = [processes.submit(_source_block, block) for block in blocks] if processes else None
        with ThreadPoolExecutor(max_workers=2, thread_name_prefix=f"verify-{entity}") as threads:
            target_futures = [threads.submit(sides.target_checksums, chunk) for chunk in chunks]
            if source_parts is None:
                source = _source_block(ranges, sides)
            else:
                source = [checksum for part in source_parts for checksum in part.result()]
            target = [checksum for future in target_futures for checksum in future.result()]
    report.source_rows = sum(c.count for c in source)
    report.target_rows = sum(c.count for c in target)
    differing = [
        (s.lo, s.hi)
        for s, t in zip(source, target, strict=True)
        if (s.count, s.digest) != (t.count, t.digest)
    ]
    report.differing_ranges = len(differing)
    for lo, hi in differing:
        _drill(sides, lo, hi, max_span, report)
    report.missing.sort()
    report.extra.sort()
    report.different.sort()
    report.seconds = time.perf_counter() - began
    return report


_forked_sides: VerifySides | None = None  # what forked source workers compute with (inherited, not pickled)


@contextmanager
def _source_pool(sides: VerifySides, jobs: int) -> Iterator[ProcessPoolExecutor | None]:
    global _forked_sides
    if jobs <= 1:
        yield None
        return
    from django.db import connections

    connections.close_all()  # each child opens its own; none inherits the parent's socket
    _forked_sides = sides
    try:
        with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("fork")) as pool:
            yield pool
    finally:
        _forked_sides = None


def _blocks(ranges: list[Range], count: int) -> list[list[Range]]:
    size = max(1, -(-len(ranges) // count))
    return [ranges[i : i + size] for i in range(0, len(ranges), size)]


def _source_block(ranges: list[Range], sides: VerifySides | None = None) -> list[RangeChecksum]:
    sides = sides or _forked_sides
    return source_range_checksums(sides.source_stream(ranges[0][0], ranges[-1][1]), ranges)


def _drill(sides: VerifySides, lo: int, hi: int, max_span: int, report: VerifyReport) -> None:
    """A range narrow enough for one drill-down call: compare id by id. A wider one (the tail): split
    it, and go on with the parts whose checksums differ."""
    if hi - lo <= max_span:
        compare_ids(sides.source_digests(lo, hi), sides.target_digests(lo, hi), report)
        return
    step = -(-(hi - lo) // SPLIT_FACTOR)
    parts = [(start, min(start + step, hi)) for start in range(lo, hi, step)]
    for (part_lo, part_hi), target in zip(parts, sides.target_checksums(parts), strict=True):
        source = sides.source_digests(part_lo, part_hi)
        if (len(source), digest_of_pairs(sorted(source.items()))) != (target.count, target.digest):
            _drill(sides, part_lo, part_hi, max_span, report)


def compare_ids(source: dict[int, str], target: dict[int, str], report: VerifyReport) -> None:
    for item_id, digest in source.items():
        other = target.get(item_id)
        if other is None:
            report.missing.append(item_id)
        elif other != digest:
            report.different.append(item_id)
    report.extra.extend(item_id for item_id in target if item_id not in source)
