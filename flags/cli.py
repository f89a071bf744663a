"""The `flags` command line: argument parsing and rendering only; the work is in flags/commands/*.

Used by the Django management command (`manage.py flags ...`) and by `python -m flags ...` (no Django)."""

import argparse
import json
import sys
from pathlib import Path
from typing import IO, Any

from rich.console import Console
from rich.table import Table

from contracts import cli
from flags.audit import AuditLog
from flags.commands.audit import audit_list, audit_verify
from flags.commands.create import flag_create
from flags.commands.delete import flag_delete
from flags.commands.export import flags_export
from flags.commands.import_ import flags_import
from flags.commands.kill import flags_kill
from flags.commands.list import flags_list
from flags.commands.results import ChangeResult
from flags.commands.rollout import flag_rollout
from flags.commands.show import flag_show
from flags.commands.toggle import flag_toggle
from flags.config import FlagsConfig, default_actor
from flags.errors import FlagsError
from flags.features import STICKINESS_CHOICES
from flags.store import open_store


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the `flags` subcommands to `parser` (a plain ArgumentParser or Django's CommandParser)."""
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(name: str, help_text: str, *, changes: bool = False) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument("--json", action="store_true", help="print the result as JSON")
        if changes:
            p.add_argument("--actor", default=None, help="who the audit log names (default: $USER@host)")
        return p

    def gated(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument(
            "--force", action="store_true", help="raise even if evidence gates fail (needs --reason; audited)"
        )
        p.add_argument("--reason", default=None, help="why the gates are overridden (with --force)")
        return p

    command("list", "list every flag and what it does now")
    command("show", "show one flag in full").add_argument("name")
    gated(command("on", "switch a flag on (its strategies decide who gets it)", changes=True)).add_argument(
        "name"
    )
    command("off", "switch a flag off: everyone gets the legacy path", changes=True).add_argument("name")
    rollout = gated(command("rollout", "turn a flag on for PCT%% of users, sticky per user", changes=True))
    rollout.add_argument("name")
    rollout.add_argument("percentage", metavar="PCT", help="whole number from 0 to 100")
    rollout.add_argument(
        "--stickiness",
        default=None,
        help=f"context field the rollout sticks to: {', '.join(STICKINESS_CHOICES)} "
        "(default: keep the flag's, else `default`: userId, then sessionId, then the client address)",
    )
    create = command("create", "add a flag (off); re-running it changes nothing", changes=True)
    create.add_argument("name", help="route.<route id> or monolith.<area>.<switch>")
    create.add_argument("--description", default=None, help="what the flag moves")
    create.add_argument(
        "--from-route",
        metavar="ID",
        default=None,
        help="the route of the route table (ROUTES_FILE) this flag switches: checked, and described",
    )
    create.add_argument("--type", dest="flag_type", default="release", help="Unleash flag type (release)")
    command("delete", "remove a flag that is off and that no route names", changes=True).add_argument("name")
    command("kill", "switch every route.* flag off at once (all traffic back to the monolith)", changes=True)
    export = command("export", "print or save all flags in Unleash's client features format")
    export.add_argument("--output", "-o", type=Path, default=None, help="write to this file (atomically)")
    gated(command("import", "add or replace flags from an Unleash features file", changes=True)).add_argument(
        "file", type=Path
    )
    audit = command("audit", "show the latest audit entries, or verify the hash chain")
    audit.add_argument(
        "--verify", action="store_true", help="check every line; exit non-zero if any was altered"
    )
    audit.add_argument("--limit", type=cli.count, default=20, help="entries to show (0: all)")


class VerifyFailed(FlagsError):
    """The audit log was edited or cut: a failed check, exit 1."""

    exit_code = cli.EXIT_CHECK_FAILED

    def __init__(self, message: str) -> None:
        super().__init__("audit_chain_broken", message)


def run(options: argparse.Namespace | dict[str, Any], *, out: IO[str] | None = None, config=None) -> int:
    """Run one parsed command, render its result to `out`; raises FlagsError on bad input."""
    opts = options if isinstance(options, dict) else vars(options)
    out = out or sys.stdout
    config = config or FlagsConfig.from_env()
    as_json = bool(opts.get("json"))
    actor = opts.get("actor") or default_actor()
    audit = AuditLog.from_config(config)
    console = _console(out)
    command = opts["command"]

    if command == "audit":
        if opts.get("verify"):
            result = audit_verify(audit)
            if as_json:
                _print_json(out, result.to_dict())
            elif result.ok:
                console.print(f"audit log {audit.path}: {result.entries} entries, chain intact")
            if not result.ok:
                where = f"line {result.bad_line}: " if result.bad_line else ""
                raise VerifyFailed(f"audit log {audit.path} is not intact: {where}{result.reason}")
            return 0
        listing = audit_list(audit, limit=opts.get("limit"))
        if as_json:
            _print_json(out, listing.to_dict())
        else:
            _render_audit(console, listing.entries)
        return 0

    store = open_store(config)
    match command:
        case "list":
            listing = flags_list(store)
            if as_json:
                _print_json(out, listing.to_dict())
            else:
                table = Table(title=f"flags ({listing.location})")
                for column in ("flag", "state", "type", "description"):
                    table.add_column(column, overflow="fold")
                for flag in listing.flags:
                    state = f"[green]{flag.summary()}[/]" if flag.enabled else "[dim]off[/]"
                    table.add_row(flag.name, state, flag.type, flag.description)
                console.print(table)
        case "show":
            shown = flag_show(store, opts["name"])
            if as_json:
                _print_json(out, shown.to_dict())
            else:
                console.print(f"[bold]{shown.flag.name}[/]: {shown.flag.summary()}  ({shown.location})")
                console.print(shown.flag.description or "", markup=False)
                console.print_json(json.dumps(shown.flag.to_feature()))
        case "on" | "off":
            enabled = command == "on"
            _render_change(
                console,
                out,
                as_json,
                flag_toggle(
                    store,
                    audit,
                    name=opts["name"],
                    enabled=enabled,
                    actor=actor,
                    force=bool(opts.get("force")),
                    reason=opts.get("reason"),
                ),
            )
        case "rollout":
            result = flag_rollout(
                store,
                audit,
                name=opts["name"],
                percentage=opts["percentage"],
                stickiness=opts.get("stickiness"),
                actor=actor,
                force=bool(opts.get("force")),
                reason=opts.get("reason"),
            )
            _render_change(console, out, as_json, result)
        case "create":
            created = flag_create(
                store,
                audit,
                name=opts["name"],
                actor=actor,
                description=opts.get("description"),
                from_route=opts.get("from_route"),
                flag_type=opts.get("flag_type") or "release",
            )
            _render_change(console, out, as_json, created)
        case "delete":
            deleted = flag_delete(
                store, audit, name=opts["name"], actor=actor, bootstrap_file=config.bootstrap_file
            )
            _render_change(console, out, as_json, deleted)
        case "kill":
            _render_change(console, out, as_json, flags_kill(store, audit, actor=actor))
        case "export":
            exported = flags_export(store, output=opts.get("output"))
            if exported.output is None:
                out.write(exported.text)
            elif as_json:
                _print_json(
                    out, {"output": str(exported.output), "flags": len(exported.document["features"])}
                )
            else:
                console.print(f"exported {len(exported.document['features'])} flags to {exported.output}")
        case "import":
            imported = flags_import(
                store,
                audit,
                path=opts["file"],
                actor=actor,
                force=bool(opts.get("force")),
                reason=opts.get("reason"),
            )
            _render_change(console, out, as_json, imported)
        case _:
            raise FlagsError("unknown_command", f"unknown flags command {command!r}")
    return 0


def _console(out: IO[str]) -> Console:
    is_tty = hasattr(out, "isatty") and out.isatty()
    return Console(file=out, width=None if is_tty else 160, soft_wrap=not is_tty, highlight=False)


def _print_json(out: IO[str], data: Any) -> None:
    out.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def _render_change(console: Console, out: IO[str], as_json: bool, result: ChangeResult) -> None:
    if as_json:
        _print_json(out, result.to_dict())
        return
    table = Table(title=f"flags {result.action} ({result.location})")
    for column in ("flag", "before", "after"):
        table.add_column(column, overflow="fold")
    for change in result.changes:
        before = change.before.summary() if change.before else "(new)"
        if change.after is None:
            after = "(deleted)"
        else:
            after = change.after.summary() if change.changed else f"{change.after.summary()} (unchanged)"
        table.add_row(change.name, before, after)
    console.print(table)
    for entry in result.audit_entries:
        note = entry.get("note") or {}
        if note.get("forced"):
            console.print(f"FORCED over failed gates ({'; '.join(note['failed_gates'])}): {note['reason']}")
    if result.audit_entries:
        console.print(
            f"audited: {len(result.audit_entries)} entr{'y' if len(result.audit_entries) == 1 else 'ies'}"
        )


def _render_audit(console: Console, entries: list[dict[str, Any]]) -> None:
    table = Table(title="flag audit log")
    for column in ("when", "who", "action", "flag", "hash"):
        table.add_column(column, overflow="fold")
    for entry in entries:
        table.add_row(entry["when"], entry["who"], entry["action"], entry["flag"], entry["hash"][:12])
    console.print(table)


def main(argv: list[str] | None = None) -> int:
    """`python -m flags ...` (no Django): exit 0 done, 1 the audit chain is broken, 2 bad usage or an
    unusable flags store, with one line `flags <command>: <code>: <message>` on stderr."""
    parser = cli.ArgumentParser(prog="flags", description="Feature flags of the strangler migration")
    add_arguments(parser)
    options = parser.parse_args(argv)
    return cli.run_main(f"flags {options.command}", lambda: run(options))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
