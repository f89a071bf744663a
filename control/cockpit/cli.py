"""`manage.py migration status [--json] [--watch [--interval S]]`: one rich table per stage (its state, each
route's flag and percentage with the split the gateway observed, error rate, p99 and breakers per
upstream, shadow match, sync lag and last verify, stuck sagas and DLQ depth, the rollout controller's
state and last decision), built by collect.migration_status. An area that cannot be read says so in its
place. Exit 0 (it reports; it judges nothing), 2 bad usage."""

from __future__ import annotations

import threading
from typing import IO, Any

from rich.console import Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from contracts import cli
from control.cockpit.collect import migration_status
from control.commandline import console_for, print_json


def add_arguments(parser) -> None:
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    status = sub.add_parser("status", help="the whole migration, stage by stage")
    cli.add_json(status)
    status.add_argument("--watch", action="store_true", help="refresh in place until Ctrl-C")
    cli.add_interval(status, 2.0, "seconds between refreshes with --watch (default 2)")


def _unavailable(area: dict[str, Any]) -> str:
    error = str(area.get("error"))
    return f"unavailable: {error[:160]}{'…' if len(error) > 160 else ''}"


def _split(observed: dict[str, Any] | None) -> str:
    if not observed or not observed.get("requests"):
        return "no traffic"
    total = sum(observed["requests"].values())
    if not total:
        return "no traffic"
    return (
        ", ".join(f"{u} {n * 100 / total:.0f}%" for u, n in sorted(observed["requests"].items()))
        + f" of {total}"
    )


def _upstream_line(gateway: dict[str, Any], upstream: str | None) -> str:
    if not gateway["ok"]:
        return "gateway metrics " + _unavailable(gateway)
    data = gateway["data"]
    parts = []
    for name in ("legacy", upstream):
        figures = data["upstreams"].get(name) if name else None
        if figures is None:
            continue
        rate = "-" if figures["error_rate"] is None else f"{figures['error_rate'] * 100:.2f}%"
        p99 = "-" if figures["p99_ms"] is None else f"{figures['p99_ms']:.0f} ms"
        parts.append(f"{name}: errors {rate}, p99 {p99} ({figures['requests']} req)")
    return "; ".join(parts) or "no traffic in the window"


def stage_tables(status: dict[str, Any]) -> list[Any]:
    areas = status["areas"]
    gateway = areas["gateway"]
    window = f"last {gateway['data']['window_seconds']:.0f} s" if gateway["ok"] else "last minute"
    out: list[Any] = []
    for stage in status["stages"]:
        table = Table(
            title=f"stage {stage['number']}: {stage['title']} — {stage['state']}", title_justify="left"
        )
        for column in ("route", "flag", "%", f"gateway split ({window})", "breakers"):
            table.add_column(column, overflow="fold")
        for route in stage["routes"]:
            split = _split(route["observed"]) if gateway["ok"] else "unavailable (below)"
            breakers = (gateway["data"]["breakers"].get(route["id"]) if gateway["ok"] else None) or {}
            table.add_row(
                route["id"] + (" (shadow)" if route["mode"] == "shadow" else ""),
                route["flag"] or "-",
                "?" if route["percentage"] is None else str(route["percentage"]),
                split,
                ", ".join(f"{u} {s}" for u, s in sorted(breakers.items())) or "-",
            )
        for flag, value in stage["flags"].items():
            table.add_row(
                "(read by a service)", flag, "?" if value is None else str(value["percentage"]), "", ""
            )
        lines = [f"upstreams: {_upstream_line(gateway, stage['upstream'])}"] if stage["routes"] else []
        if stage["number"] == 1:
            lines.append(
                f"gateway: metrics read from {', '.join(gateway['data']['urls'])}"
                if gateway["ok"]
                else "gateway metrics " + _unavailable(gateway)
            )
        lines += _stage_lines(stage, areas)
        text = Text("\n".join(f"  {line}" for line in lines))
        if stage["routes"] or stage["flags"]:
            out.append(Group(table, text))
        else:
            out.append(Group(Text(table.title or "", style="italic"), text))
    decommission = status["decommission"]
    out.append(Text(f"decommission: {decommission.get('error') or decommission.get('data')}"))
    return out


def _stage_lines(stage: dict[str, Any], areas: dict[str, Any]) -> list[str]:
    lines = []
    shadowed = [r["id"] for r in stage["routes"] if r["mode"] == "shadow"]
    if shadowed:
        shadow = areas["shadow"]
        if not shadow["ok"]:
            lines.append("shadow: " + _unavailable(shadow))
        for rid in shadowed if shadow["ok"] else []:
            found = shadow["data"]["routes"].get(rid)
            lines.append(
                f"shadow {rid}: match {found['match_rate']:.2f}% over {found['samples']} pairs"
                if found
                else f"shadow {rid}: no pairs compared yet"
            )
    if stage["entity"]:
        if stage["entity"] == "products":
            sync = areas["sync"]
            if sync["ok"]:
                data = sync["data"]
                in_sync = "yes" if data["in_sync"] else "no"
                lines.append(
                    f"sync: lag {data['relay_lag_seconds']:.1f} s, {data['outbox_to_relay']} rows to relay, "
                    f"in sync: {in_sync}"
                )
            else:
                lines.append("sync: " + _unavailable(sync))
        verify = areas["verify"]
        last = (verify["data"] or {}).get(stage["entity"]) if verify["ok"] else None
        lines.append(
            f"last clean verify of {stage['entity']}: "
            + (_unavailable(verify) if not verify["ok"] else (last or "never"))
        )
    if stage["sagas"]:
        sagas, dlq = areas["sagas"], areas["dlq"]
        lines.append("sagas: " + (f"{sagas['data']['stuck']} stuck" if sagas["ok"] else _unavailable(sagas)))
    if stage["entity"] or stage["sagas"]:
        dlq = areas["dlq"]
        mine = {
            c: n
            for c, n in (dlq["data"] or {}).items()
            if stage["upstream"] and c.startswith(_service(stage))
        }
        if not dlq["ok"]:
            lines.append("DLQ: " + _unavailable(dlq))
        elif mine:
            lines.append("DLQ: " + ", ".join(f"{c}.dlq {'-' if n is None else n}" for c, n in mine.items()))
    rollouts = areas["rollouts"]
    for route in stage["routes"]:
        if not rollouts["ok"]:
            lines.append("rollout controller: " + _unavailable(rollouts))
            break
        rollout = rollouts["data"].get(route["id"])
        if rollout:
            said = rollout["reason"] or "; ".join(rollout["reasons"]) or "-"
            lines.append(
                f"rollout {route['id']}: {rollout['state']} at {rollout['percentage']}%, "
                f"last decision {rollout['last_decision'] or '-'}: {said}"
            )
    runbooks = areas["runbooks"]
    if runbooks["ok"]:
        mine = [b for b in runbooks["data"] if b["stage"] == stage["number"]]
        if mine:
            lines.append(
                "runbooks: "
                + ", ".join(f"{b['name']} ({(b['last_run'] or {}).get('status', 'never run')})" for b in mine)
            )
    return lines


def _service(stage: dict[str, Any]) -> str:
    return {"product": "product_service", "orders": "order_service", "payments": "payment_service"}.get(
        stage["upstream"], stage["upstream"] or ""
    )


def run(options: dict[str, Any], *, out: IO[str], stop: threading.Event | None = None) -> int:
    console = console_for(out)
    if options.get("json") and options.get("watch"):
        raise cli.UsageError("--watch shows the tables; --json prints one status")
    if options.get("json"):
        print_json(out, migration_status())
        return 0
    if not options.get("watch"):
        for part in stage_tables(migration_status()):
            console.print(part)
        return 0
    stop = stop or threading.Event()
    with Live(Group(*stage_tables(migration_status())), console=console, auto_refresh=False) as live:
        try:
            while not stop.wait(options["interval"]):
                live.update(Group(*stage_tables(migration_status())), refresh=True)
        except KeyboardInterrupt:
            pass
    return 0
