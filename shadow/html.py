"""The shadow report as ONE self-contained HTML file: inline CSS and SVG, no scripts, no external assets.
Everything that comes from pairs (paths, values, bodies, trace ids) is HTML-escaped: bodies are untrusted."""

from __future__ import annotations

import re
from html import escape
from typing import Any

import orjson

from shadow.commands.report import Report, RouteReport
from shadow.selectors import Bucket

MAX_BODY_CHARS = 6000
_LAST_KEY = re.compile(r"\.([A-Za-z0-9_$@-]+)$")
REAL_BADGE = '<span class="badge real">real</span>'
NOISE_BADGE = '<span class="badge noise">noise</span>'
CHART_W, CHART_H, PAD_L, PAD_R, PAD_T, PAD_B = 720, 220, 52, 16, 14, 36

CSS = """
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1d2430;
background:#f4f6fa}
header{background:#1f3a5f;color:#fff;padding:18px 28px}
header h1{margin:0 0 4px;font-size:22px}
header p{margin:0;opacity:.85}
main{padding:20px 28px;max-width:1400px}
section{background:#fff;border-radius:8px;box-shadow:0 1px 3px rgba(0,0,0,.12);padding:16px 20px;
margin:0 0 20px}
h2{margin:0 0 12px;font-size:18px}
h3{margin:18px 0 8px;font-size:15px}
table{border-collapse:collapse;width:100%;margin:4px 0 8px}
th,td{text-align:left;padding:6px 8px;border-bottom:1px solid #e3e7ee;vertical-align:top}
th{background:#eef2f7;font-weight:600}
td.num{text-align:right;font-variant-numeric:tabular-nums}
code,pre{font:12px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;font-weight:600}
.real{background:#fde2e1;color:#a61b1b}.noise{background:#e4f4e6;color:#1f6b2a}
.good{color:#1f6b2a;font-weight:600}.bad{color:#a61b1b;font-weight:600}
.bar{background:#e3e7ee;border-radius:3px;height:10px;width:140px;display:inline-block;vertical-align:middle}
.bar span{display:block;height:10px;border-radius:3px;background:#7aa974}
.pair{border:1px solid #e3e7ee;border-radius:6px;margin:10px 0;padding:10px}
.pair .meta{color:#5a6576;font-size:12px;margin-bottom:6px}
.side{display:grid;grid-template-columns:1fr 1fr;gap:10px}
.side pre{background:#f7f9fc;border:1px solid #e3e7ee;border-radius:4px;padding:8px;margin:0;max-height:360px;
overflow:auto;white-space:pre-wrap;word-break:break-all}
.side h4{margin:0 0 4px;font-size:13px}
.empty{color:#5a6576;font-style:italic}
mark{background:#ffe58a;color:inherit}
svg text{font:11px system-ui,sans-serif;fill:#5a6576}
"""


def render_html(report: Report) -> str:
    routes = report.routes
    plural = "s" if len(routes) != 1 else ""
    scope = f"route {report.route}" if report.route else f"{len(routes)} route{plural}"
    since = f" since {report.since.isoformat()}" if report.since else ""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<title>Shadow comparison report</title>",
        f"<style>{CSS}</style></head><body>",
        "<header><h1>Shadow comparison report</h1>",
        f"<p>{escape(scope)}{escape(since)} &middot; generated {escape(report.generated_at.isoformat())}</p>",
        "</header><main>",
        _summary(routes),
    ]
    parts.extend(_route_section(route) for route in routes)
    parts.append("</main></body></html>")
    return "\n".join(parts)


def _summary(routes: list[RouteReport]) -> str:
    if not routes:
        return '<section><h2>Routes</h2><p class="empty">No shadow pairs compared yet.</p></section>'
    rows = []
    for route in routes:
        e = route.evidence
        rows.append(
            "<tr>"
            f'<td><a href="#route-{escape(e.route)}">{escape(e.route)}</a></td>'
            f'<td class="num">{e.samples}</td>'
            f'<td class="num {_rate_class(e.match_rate)}">{e.match_rate:.3f}%</td>'
            f'<td class="num">{e.raw_match_rate:.3f}%</td>'
            f'<td class="num">{e.real_mismatches}</td>'
            f'<td class="num">{len(e.real_paths)}</td>'
            f'<td class="num">{e.noise_samples}</td>'
            f'<td class="num">{e.skipped}</td>'
            f"<td>{escape(_when(e.last_at))}</td>"
            "</tr>"
        )
    head = (
        "<tr><th>route</th><th>samples</th><th>match rate (after noise)</th><th>raw match rate</th>"
        "<th>real mismatches</th><th>real paths</th><th>noise samples</th><th>not comparable</th>"
        "<th>last pair</th></tr>"
    )
    return f"<section><h2>Routes</h2><table>{head}{''.join(rows)}</table></section>"


def _route_section(route: RouteReport) -> str:
    e = route.evidence
    thresholds = f"noise thresholds: relative {e.thresholds.relative}%, absolute {e.thresholds.absolute}%"
    return (
        f'<section id="route-{escape(e.route)}"><h2>{escape(e.route)}</h2>'
        f"<p>{e.samples} samples, match rate <b>{e.match_rate:.3f}%</b> after noise cancellation "
        f"({e.raw_match_rate:.3f}% raw); {escape(thresholds)}</p>"
        f"<h3>Match rate per {escape(route.bucket)}</h3>{_chart(route.buckets, route.bucket)}"
        f"<h3>Top differing field paths</h3>{_paths_table(route)}"
        f"<h3>Example pairs</h3>{_examples(route)}</section>"
    )


def _chart(buckets: list[Bucket], kind: str) -> str:
    if not buckets:
        return '<p class="empty">No pairs in this period.</p>'
    low = min(min(b.match_rate, b.raw_match_rate) for b in buckets)
    floor = max(0.0, min(90.0, (int(low) // 10) * 10))
    width, height = CHART_W - PAD_L - PAD_R, CHART_H - PAD_T - PAD_B
    step = width / max(len(buckets) - 1, 1)

    def x(i: int) -> float:
        return PAD_L + (i * step if len(buckets) > 1 else width / 2)

    def y(rate: float) -> float:
        return PAD_T + height * (100.0 - rate) / (100.0 - floor)

    grid = []
    for tick in (floor, (floor + 100) / 2, 100.0):
        grid.append(
            f'<line x1="{PAD_L}" y1="{y(tick):.1f}" x2="{CHART_W - PAD_R}" y2="{y(tick):.1f}" '
            'stroke="#e3e7ee"/>'
            f'<text x="{PAD_L - 6}" y="{y(tick) + 4:.1f}" text-anchor="end">{tick:g}%</text>'
        )
    bars = []
    bar_w = max(2.0, min(24.0, step * 0.6))
    most = max(b.samples for b in buckets)
    for i, b in enumerate(buckets):
        h = 30 * b.samples / most
        bars.append(
            f'<rect x="{x(i) - bar_w / 2:.1f}" y="{PAD_T + height - h:.1f}" width="{bar_w:.1f}" '
            f'height="{h:.1f}" fill="#dbe4f0"><title>{b.samples} pairs</title></rect>'
        )
    raw = " ".join(f"{x(i):.1f},{y(b.raw_match_rate):.1f}" for i, b in enumerate(buckets))
    real = " ".join(f"{x(i):.1f},{y(b.match_rate):.1f}" for i, b in enumerate(buckets))
    dots = "".join(
        f'<circle cx="{x(i):.1f}" cy="{y(b.match_rate):.1f}" r="3" fill="#1f3a5f">'
        f"<title>{escape(_when(b.start))}: {b.match_rate:.3f}% of {b.samples}</title></circle>"
        for i, b in enumerate(buckets)
    )
    labels = []
    last = len(buckets) - 1
    for i in sorted({0, len(buckets) // 2, last}):
        stamp = buckets[i].start.strftime("%m-%d %H:%M" if kind != "day" else "%Y-%m-%d")
        anchor = "start" if i == 0 and last else "end" if i == last and last else "middle"
        where = f'x="{x(i):.1f}" y="{CHART_H - 12}" text-anchor="{anchor}"'
        labels.append(f"<text {where}>{escape(stamp)}</text>")
    legend = (
        f'<line x1="{CHART_W - 260}" y1="{CHART_H - 6}" x2="{CHART_W - 240}" y2="{CHART_H - 6}" '
        'stroke="#1f3a5f" stroke-width="2"/>'
        f'<text x="{CHART_W - 236}" y="{CHART_H - 2}">after noise</text>'
        f'<line x1="{CHART_W - 160}" y1="{CHART_H - 6}" x2="{CHART_W - 140}" y2="{CHART_H - 6}" '
        'stroke="#c0392b" stroke-dasharray="4 3" stroke-width="2"/>'
        f'<text x="{CHART_W - 136}" y="{CHART_H - 2}">raw</text>'
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{CHART_W}" height="{CHART_H}" '
        f'viewBox="0 0 {CHART_W} {CHART_H}" role="img" aria-label="match rate over time">'
        f"{''.join(grid)}{''.join(bars)}"
        f'<polyline points="{raw}" fill="none" stroke="#c0392b" stroke-width="2" stroke-dasharray="4 3"/>'
        f'<polyline points="{real}" fill="none" stroke="#1f3a5f" stroke-width="2"/>'
        f"{dots}{''.join(labels)}{legend}</svg>"
    )


def _paths_table(route: RouteReport) -> str:
    if not route.top_paths:
        return '<p class="empty">No differences.</p>'
    rows = []
    for v in route.top_paths:
        verdict = REAL_BADGE if v.real else NOISE_BADGE
        share = f'<span class="bar"><span style="width:{100 * v.noise_share:.0f}%"></span></span>'
        rows.append(
            f"<tr><td><code>{escape(v.path)}</code></td><td>{verdict}</td>"
            f'<td class="num">{v.raw}</td><td class="num">{v.noise:.1f}</td>'
            f"<td>{share} {100 * v.noise_share:.0f}%</td>"
            f'<td class="num">{v.relative:.1f}%</td><td class="num">{v.absolute:.3f}%</td></tr>'
        )
    head = (
        "<tr><th>field path</th><th>verdict</th><th>raw</th><th>noise</th><th>noise share</th>"
        "<th>relative</th><th>absolute</th></tr>"
    )
    return f"<table>{head}{''.join(rows)}</table>"


def _examples(route: RouteReport) -> str:
    blocks = []
    for path, pairs in route.examples.items():
        for pair in pairs:
            blocks.append(_pair_block(path, pair))
    return "".join(blocks) or '<p class="empty">No differing pairs to show.</p>'


def _pair_block(path: str, pair: dict[str, Any]) -> str:
    example = pair.get("example") or {}
    differences = "".join(
        f"<li><code>{escape(d['path'])}</code> ({escape(d['kind'])}): "
        f"<code>{escape(_value(d.get('primary')))}</code> &rarr; "
        f"<code>{escape(_value(d.get('candidate')))}</code></li>"
        for d in pair.get("differences", [])[:10]
    )
    request = f"{example.get('method', '')} {example.get('path', '')}"
    if example.get("query"):
        request += f"?{example['query']}"
    return (
        '<div class="pair">'
        f'<div class="meta">for <code>{escape(path)}</code>'
        f" &middot; trace <code>{escape(pair['trace_id'])}</code>"
        f" &middot; pair <code>{escape(pair['pair_id'])}</code> &middot; {escape(str(pair['captured_at']))}"
        f" &middot; <code>{escape(request)}</code></div>"
        f"<ul>{differences}</ul>"
        '<div class="side">'
        f"{_side('primary (legacy)', example.get('primary'), _marks(pair, 'primary'))}"
        f"{_side('candidate', example.get('candidate'), _marks(pair, 'candidate'))}"
        "</div></div>"
    )


def _side(title: str, exchange: dict[str, Any] | None, marks: set[str]) -> str:
    if not exchange:
        return f'<div><h4>{escape(title)}</h4><p class="empty">not kept</p></div>'
    status = exchange.get("status")
    error = f", error {exchange['error']}" if exchange.get("error") else ""
    head = f"{title}: {status}{error}, {exchange.get('elapsed_ms')} ms"
    lines = [
        f"<mark>{escape(line)}</mark>" if line.strip().rstrip(",") in marks else escape(line)
        for line in _pretty(exchange).split("\n")
    ]
    return f"<div><h4>{escape(head)}</h4><pre>{chr(10).join(lines)}</pre></div>"


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


def _rate_class(rate: float) -> str:
    return "good" if rate >= 99.0 else "bad"


def _when(moment) -> str:
    return moment.isoformat() if moment else "-"
