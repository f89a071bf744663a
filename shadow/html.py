"""The shadow report as ONE self-contained HTML file: inline CSS and SVG, no scripts, no external assets.

The page is a Jinja2 template (shadow/templates/report.html.j2, its CSS in report.css) rendered with
autoescaping on, so everything that comes from pairs (paths, values, bodies, trace ids; bodies are
untrusted) is HTML-escaped by the template engine, not by hand. This module only computes what the
template shows: the chart's geometry, the pretty-printed bodies and which of their lines to highlight."""

from __future__ import annotations

import re
from functools import cache
from typing import Any

import jinja2
import orjson

from shadow.commands.report import Report, RouteReport
from shadow.selectors import Bucket

MAX_BODY_CHARS = 6000
_LAST_KEY = re.compile(r"\.([A-Za-z0-9_$@-]+)$")
CHART_W, CHART_H, PAD_L, PAD_R, PAD_T, PAD_B = 720, 220, 52, 16, 14, 36


@cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("shadow", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=False,
    )


def render_html(report: Report) -> str:
    routes = report.routes
    plural = "s" if len(routes) != 1 else ""
    return (
        _environment()
        .get_template("report.html.j2")
        .render(
            scope=f"route {report.route}" if report.route else f"{len(routes)} route{plural}",
            since=f" since {report.since.isoformat()}" if report.since else "",
            generated_at=report.generated_at.isoformat(),
            routes=[_route(route) for route in routes],
        )
    )


def _route(route: RouteReport) -> dict[str, Any]:
    e = route.evidence
    return {
        "evidence": e,
        "rate_class": "good" if e.match_rate >= 99.0 else "bad",
        "last_at": _when(e.last_at),
        "bucket": route.bucket,
        "chart": _chart(route.buckets, route.bucket),
        "top_paths": route.top_paths,
        "pairs": [_pair(path, pair) for path, pairs in route.examples.items() for pair in pairs],
    }


def _chart(buckets: list[Bucket], kind: str) -> dict[str, Any] | None:
    """The SVG's geometry: match rate lines (after noise, raw), sample bars, gridlines and time labels."""
    if not buckets:
        return None
    low = min(min(b.match_rate, b.raw_match_rate) for b in buckets)
    floor = max(0.0, min(90.0, (int(low) // 10) * 10))
    width, height = CHART_W - PAD_L - PAD_R, CHART_H - PAD_T - PAD_B
    step = width / max(len(buckets) - 1, 1)

    def x(i: int) -> float:
        return PAD_L + (i * step if len(buckets) > 1 else width / 2)

    def y(rate: float) -> float:
        return PAD_T + height * (100.0 - rate) / (100.0 - floor)

    bar_w = max(2.0, min(24.0, step * 0.6))
    most = max(b.samples for b in buckets)
    last = len(buckets) - 1
    labels = []
    for i in sorted({0, len(buckets) // 2, last}):
        anchor = "start" if i == 0 and last else "end" if i == last and last else "middle"
        stamp = buckets[i].start.strftime("%m-%d %H:%M" if kind != "day" else "%Y-%m-%d")
        labels.append({"x": f"{x(i):.1f}", "anchor": anchor, "text": stamp})
    return {
        "width": CHART_W,
        "height": CHART_H,
        "left": PAD_L,
        "right": CHART_W - PAD_R,
        "ticks": [
            {"y": f"{y(tick):.1f}", "label_y": f"{y(tick) + 4:.1f}", "label": f"{tick:g}"}
            for tick in (floor, (floor + 100) / 2, 100.0)
        ],
        "bars": [
            {
                "x": f"{x(i) - bar_w / 2:.1f}",
                "y": f"{PAD_T + height - 30 * b.samples / most:.1f}",
                "width": f"{bar_w:.1f}",
                "height": f"{30 * b.samples / most:.1f}",
                "samples": b.samples,
            }
            for i, b in enumerate(buckets)
        ],
        "raw_points": " ".join(f"{x(i):.1f},{y(b.raw_match_rate):.1f}" for i, b in enumerate(buckets)),
        "points": " ".join(f"{x(i):.1f},{y(b.match_rate):.1f}" for i, b in enumerate(buckets)),
        "dots": [
            {
                "x": f"{x(i):.1f}",
                "y": f"{y(b.match_rate):.1f}",
                "title": f"{_when(b.start)}: {b.match_rate:.3f}% of {b.samples}",
            }
            for i, b in enumerate(buckets)
        ],
        "labels": labels,
    }


def _pair(path: str, pair: dict[str, Any]) -> dict[str, Any]:
    example = pair.get("example") or {}
    request = f"{example.get('method', '')} {example.get('path', '')}"
    if example.get("query"):
        request += f"?{example['query']}"
    return {
        "path": path,
        "trace_id": pair["trace_id"],
        "pair_id": pair["pair_id"],
        "captured_at": str(pair["captured_at"]),
        "request": request,
        "differences": [
            {
                "path": d["path"],
                "kind": d["kind"],
                "primary": _value(d.get("primary")),
                "candidate": _value(d.get("candidate")),
            }
            for d in pair.get("differences", [])[:10]
        ],
        "sides": [
            _side("primary (legacy)", example.get("primary"), _marks(pair, "primary")),
            _side("candidate", example.get("candidate"), _marks(pair, "candidate")),
        ],
    }


def _side(title: str, exchange: dict[str, Any] | None, marks: set[str]) -> dict[str, Any]:
    if not exchange:
        return {"title": title, "missing": True}
    error = f", error {exchange['error']}" if exchange.get("error") else ""
    return {
        "title": title,
        "missing": False,
        "head": f"{title}: {exchange.get('status')}{error}, {exchange.get('elapsed_ms')} ms",
        "lines": [(line, line.strip().rstrip(",") in marks) for line in _pretty(exchange).split("\n")],
    }


def _marks(pair: dict[str, Any], side: str) -> set[str]:
    """`"key": value` lines of the pretty body to highlight: the differing fields' values on that side."""
    found = set()
    for difference in pair.get("differences", []):
        key = _LAST_KEY.search(difference["path"])
        value = difference.get(side)
        if value is None:
            continue
        if key is not None:
            found.add(f'"{key[1]}": {orjson.dumps(value).decode()}')
        elif difference["path"].endswith("[*]"):  # a list element on a line of its own
            found.add(orjson.dumps(value).decode())
    return found


def _pretty(exchange: dict[str, Any]) -> str:
    body = exchange.get("body") or ""
    if exchange.get("body_encoding") == "base64":
        return f"({exchange.get('body_size')} bytes of binary, sha256 {exchange.get('body_sha256')})"
    try:
        text = orjson.dumps(orjson.loads(body), option=orjson.OPT_INDENT_2).decode()
    except orjson.JSONDecodeError:
        text = body
    if exchange.get("body_truncated") or exchange.get("example_cut"):
        text += "\n… (cut)"
    return text if len(text) <= MAX_BODY_CHARS else text[:MAX_BODY_CHARS] + "\n… (cut)"


def _value(value: Any) -> str:
    return "(absent)" if value is None else value if isinstance(value, str) else orjson.dumps(value).decode()


def _when(moment) -> str:
    return moment.isoformat() if moment else "-"
