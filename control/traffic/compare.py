"""`traffic replay --compare`: each recorded answer and the candidate's go through the shadow comparator
(shadow/comparator.py) as one shadow pair, and the pairs become the same report as live shadow mode
(shadow.commands.report.Report: JSON, or one HTML file through shadow/html.py) -- built in memory, so a
replay needs no shadow database and leaves the live shadow results alone.

The recorded answer is the pair's primary (legacy, or whichever upstream answered at the time), the
candidate's is its candidate, and with `--repeats 2` a second candidate answer gives the comparator the
candidate's own noise (Diffy's candidate-vs-candidate). The candidate's answers are redacted with the
rules the recording used, so a redacted field compares equal. A recorded flow whose answer the gateway
streamed (no body in the recording) is a skipped pair, as live shadow mode skips a missing legacy answer."""

from __future__ import annotations

import dataclasses
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

from django.utils import timezone

from contracts.recording import Redaction
from control.traffic.replay import Answer, Replayed
from shadow.commands.common import thresholds_for
from shadow.commands.report import DEFAULT_TOP, Report, RouteReport
from shadow.comparator import Comparator, PairResult
from shadow.noise import classify, real_mismatches
from shadow.pairs import Exchange, ShadowPair
from shadow.rules import Rules
from shadow.selectors import Bucket, RouteEvidence
from shadow.store import example_of

NOT_RECORDED = "not_recorded"  # the recorded answer has no body (streamed past the gateway)


def _recorded_exchange(flow, facts) -> Exchange:
    response = flow.response
    if response is None or (facts is not None and facts.body_streamed):
        return Exchange.failed(NOT_RECORDED, 0.0)
    if facts is not None and facts.upstream_ms is not None:
        elapsed = facts.upstream_ms
    else:
        elapsed = max(0.0, ((response.timestamp_end or 0) - (flow.request.timestamp_start or 0)) * 1000)
    body = response.get_content(strict=False) or b""
    return Exchange.answered(response.status_code, response.headers.items(multi=True), body, elapsed)


def _candidate_exchange(answer: Answer, redaction: Redaction) -> Exchange:
    if answer.error:
        return Exchange.failed(answer.error, answer.elapsed_ms)
    content_type = next((v for k, v in answer.headers if k.lower() == "content-type"), None)
    body, _ = redaction.body(answer.body, content_type)
    return Exchange.answered(answer.status, redaction.header_fields(answer.headers), body, answer.elapsed_ms)


def _trace_id(flow) -> str:
    parts = (flow.request.headers.get("traceparent") or "").split("-")
    return parts[1] if len(parts) == 4 else ""


def pair_of(replayed: Replayed) -> ShadowPair:
    """The recorded exchange and the candidate's answer(s) as one shadow pair, captured when recorded."""
    flow, facts = replayed.flow, replayed.facts
    redaction = facts.redaction if facts else Redaction()
    request = flow.request
    path, _, query = request.path.partition("?")
    candidates = [_candidate_exchange(answer, redaction) for answer in replayed.answers]
    pair = ShadowPair.build(
        route=facts.route if facts and facts.route else "unrouted",
        trace_id=_trace_id(flow),
        user=None,
        method=request.method,
        path=path or "/",
        query=query,
        header_fields=request.headers.items(multi=True),
        body=request.get_content(strict=False),
        primary=_recorded_exchange(flow, facts),
        candidate=candidates[0],
        candidate2=candidates[1] if len(candidates) > 1 else None,
    )
    recorded_at = datetime.fromtimestamp(request.timestamp_start or 0.0, UTC)
    return dataclasses.replace(pair, captured_at=recorded_at.isoformat().replace("+00:00", "Z"), id=flow.id)


def compare_all(comparator: Comparator, replayed: list[Replayed]) -> list[tuple[ShadowPair, PairResult]]:
    compared = []
    for item in replayed:
        if item.skipped:
            continue
        pair = pair_of(item)
        compared.append((pair, comparator.compare(pair)))
    return compared


def _bucket_kind(first: datetime, last: datetime) -> str:
    span = last - first
    return "minute" if span <= timedelta(hours=3) else "hour" if span <= timedelta(days=7) else "day"


def _truncate(moment: datetime, kind: str) -> datetime:
    moment = moment.replace(second=0, microsecond=0)
    if kind != "minute":
        moment = moment.replace(minute=0)
    return moment.replace(hour=0) if kind == "day" else moment


def route_report(
    route: str,
    items: list[tuple[ShadowPair, PairResult]],
    rules: Rules,
    *,
    relative: float | None = None,
    absolute: float | None = None,
    top: int = DEFAULT_TOP,
    examples_per_path: int = 2,
) -> RouteReport:
    """One route's evidence, match rate over time and examples, as `shadow report` builds them from the
    comparator's database."""
    compared = [(pair, result) for pair, result in items if not result.skipped]
    raw: Counter = Counter()
    noise: Counter = Counter()
    for _, result in compared:
        raw.update(result.paths if not result.matched else ())
        noise.update(result.noise_paths)
    samples = len(compared)
    noise_samples = sum(result.noise_checked for _, result in compared)
    thresholds = thresholds_for(rules, route, relative=relative, absolute=absolute)
    verdicts = classify(raw, noise, samples=samples, noise_samples=noise_samples, thresholds=thresholds)
    real = {v.path for v in verdicts if v.real}
    mismatched = [(pair, result) for pair, result in compared if not result.matched]
    times = [datetime.fromisoformat(pair.captured_at) for pair, _ in items]
    evidence = RouteEvidence(
        route=route,
        samples=samples,
        matched=sum(result.matched for _, result in compared),
        noise_samples=noise_samples,
        skipped=len(items) - samples,
        first_at=min(times) if times else None,
        last_at=max(times) if times else None,
        verdicts=tuple(verdicts),
        real_mismatches=real_mismatches((r.paths for _, r in mismatched), real) if real else 0,
        thresholds=thresholds,
    )
    kind = _bucket_kind(evidence.first_at, evidence.last_at) if times else "minute"
    counts: dict[datetime, list[int]] = defaultdict(lambda: [0, 0, 0])
    for pair, result in compared:
        bucket = counts[_truncate(datetime.fromisoformat(pair.captured_at), kind)]
        bucket[0] += 1
        bucket[1] += result.matched
        bucket[2] += not result.matched and not real.isdisjoint(result.paths)
    buckets = [Bucket(start, *counts[start]) for start in sorted(counts)]
    top_paths = list(verdicts[:top])
    shown = [v.path for v in sorted(top_paths, key=lambda v: not v.real) if v.raw]  # real ones first
    examples: dict[str, list[dict[str, Any]]] = {path: [] for path in shown}
    for pair, result in reversed(mismatched):  # newest first
        for path in result.paths:
            found = examples.get(path)
            if found is not None and len(found) < examples_per_path:
                found.append(
                    {
                        "pair_id": pair.id,
                        "trace_id": pair.trace_id,
                        "captured_at": pair.captured_at,
                        "paths": list(result.paths),
                        "differences": [d.to_dict() for d in result.differences],
                        "example": example_of(pair),
                    }
                )
    return RouteReport(
        evidence=evidence, bucket=kind, buckets=buckets, top_paths=top_paths, examples=examples
    )


def replay_report(
    compared: list[tuple[ShadowPair, PairResult]], rules: Rules, *, route: str | None = None, **options: Any
) -> Report:
    by_route: dict[str, list[tuple[ShadowPair, PairResult]]] = defaultdict(list)
    for pair, result in compared:
        by_route[pair.route].append((pair, result))
    routes = [route_report(name, by_route[name], rules, **options) for name in sorted(by_route)]
    return Report(generated_at=timezone.now(), since=None, route=route, routes=routes)
