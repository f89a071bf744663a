"""Rendering of sync results: rich summary tables for people, one JSON object for scripts."""

from __future__ import annotations

from typing import IO, Any

import orjson
from rich.console import Console
from rich.table import Table

from .backfill import BackfillResult
from .verify import VerifyReport

MAX_IDS_SHOWN = 20


def console_for(out: IO[str]) -> Console:
    return Console(file=out, width=120, soft_wrap=True)


def write_json(out: IO[str], data: Any) -> None:
    out.write(orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS).decode() + "\n")


def backfill_table(results: list[BackfillResult]) -> Table:
    dry = any(r.dry_run for r in results)
    table = Table(title="backfill" + (" (dry run: nothing sent)" if dry else ""))
    for column in ("entity", "rows", "batches", "applied", "stale", "resumed after id", "seconds", "rows/s"):
        table.add_column(column, justify="left" if column == "entity" else "right")
    for r in results:
        table.add_row(
            r.entity,
            f"{r.rows:,}",
            f"{r.batches:,}",
            "-" if dry else f"{r.result.applied:,}",
            "-" if dry else f"{r.result.stale:,}",
            str(r.resumed_from) if r.resumed_from else "-",
            f"{r.seconds:.2f}",
            f"{r.rows_per_second:,.0f}",
        )
    return table


def _ids(ids: list[int]) -> str:
    shown = ", ".join(str(i) for i in ids[:MAX_IDS_SHOWN])
    return shown + (f" ... (+{len(ids) - MAX_IDS_SHOWN})" if len(ids) > MAX_IDS_SHOWN else "") or "-"


def verify_table(report: VerifyReport) -> Table:
    table = Table(title=f"verify {report.entity}: {report.differences} difference(s)")
    table.add_column("what")
    table.add_column("value", overflow="fold")
    rows = [
        ("source rows", f"{report.source_rows:,}"),
        ("target rows", f"{report.target_rows:,}"),
        ("ranges checked", f"{report.ranges:,} ({report.differing_ranges:,} differing)"),
        ("missing in target", f"{len(report.missing)}: {_ids(report.missing)}"),
        ("extra in target", f"{len(report.extra)}: {_ids(report.extra)}"),
        ("different", f"{len(report.different)}: {_ids(report.different)}"),
        ("seconds", f"{report.seconds:.2f}"),
    ]
    if report.repaired is not None:
        rows.append(("repair", ", ".join(f"{k} {v}" for k, v in report.repaired.items())))
    for what, value in rows:
        table.add_row(what, value)
    return table
