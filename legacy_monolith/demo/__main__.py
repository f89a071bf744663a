"""`make demo`: the strangler migration in the embedded profile (SQLite, no servers): the monolith behind
the gateway, the Product service backfilled and verified, a route rolled out 0 -> 50 -> 100 %, a shadow
phase and a rollback, each phase a table. `--monolith-only` (`make demo-monolith`): the monolith's
scripted shopping journey alone."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

from contracts import cli

from .journey import Journey, JourneyError, Step
from .processes import REPO_ROOT, ProcessStartError
from .stack import running_stack
from .strangler import DEMO_STAFF, DemoFailed
from .strangler import run as run_strangler


def main(argv: list[str] | None = None) -> int:
    parser = cli.ArgumentParser(prog="python -m legacy_monolith.demo", error_prog="demo", description=__doc__)
    parser.add_argument("--monolith-only", action="store_true", help="the monolith's shopping journey only")
    parser.add_argument(
        "--var-dir", type=Path, default=REPO_ROOT / "var" / "demo", help="where the run keeps its files"
    )
    options = parser.parse_args(argv)
    console = Console()
    if options.monolith_only:
        return monolith_journey(console)
    var_dir = options.var_dir.resolve()
    shutil.rmtree(var_dir, ignore_errors=True)
    var_dir.mkdir(parents=True)
    try:
        result = run_strangler(console, var_dir)
    except (DemoFailed, JourneyError, ProcessStartError) as exc:
        console.print(f"[red]✘ demo failed:[/red] {exc}", highlight=False)
        console.print(f"logs: {var_dir / 'logs'}")
        return 1
    finally:
        console.print(f"[dim]processes stopped; databases, logs and flags left in {var_dir}[/dim]")
    table = Table(title="the strangler demo")
    for column in ("phase", "outcome", "s"):
        table.add_column(column)
    for phase, outcome, seconds in result.phases:
        table.add_row(phase, outcome, f"{seconds:.1f}")
    console.print(table)
    audit = var_dir / "flags-audit.log"
    console.print(
        f"[bold green]Done.[/] The shadow report is [bold]{result.report}[/]; every flag change is in "
        f"{audit} (`FLAGS_AUDIT_LOG={audit} manage.py flags audit`)."
    )
    return 0


def monolith_journey(console: Console) -> int:
    """The monolith alone (migrate, seed, sandbox, gunicorn) and its scripted shopping journey."""
    var_dir = REPO_ROOT / "var" / "demo-monolith"
    shutil.rmtree(var_dir, ignore_errors=True)
    var_dir.mkdir(parents=True)
    database_url = f"sqlite:///{var_dir / 'monolith.sqlite3'}"

    table = Table(title="TechStore shopping journey", show_lines=False)
    for column in ("step", "what happened", "status", "ms"):
        table.add_column(column)

    def show(step: Step) -> None:
        console.print(
            f"[green]✔[/green] {step.name:<22} {step.detail}  [dim]({step.status}, {step.elapsed_ms:.0f} ms)"
        )
        table.add_row(step.name, step.detail, str(step.status), f"{step.elapsed_ms:.0f}")

    try:
        with running_stack(
            database_url=database_url,
            var_dir=var_dir,
            on_phase=lambda p: console.print(f"[bold]•[/bold] {p}"),
        ) as stack:
            console.print(f"[bold]•[/bold] running the journey against {stack.monolith_url}")
            result = Journey(
                base_url=stack.monolith_url,
                sandbox_url=stack.sandbox_url,
                webhook_secret=stack.webhook_secret,
                staff_username=DEMO_STAFF[0],
                staff_password=DEMO_STAFF[1],
                on_step=show,
            ).run()
    except (JourneyError, ProcessStartError) as exc:
        console.print(f"[red]✘ demo failed:[/red] {exc}")
        console.print(f"logs: {var_dir / 'logs'}")
        return 1
    finally:
        console.print(
            f"[dim]processes stopped; database, logs and mail left in {var_dir} until the next run[/dim]"
        )

    console.print(table)
    console.print(
        f"[bold green]Journey complete:[/bold green] {result.username} bought order {result.order_number} "
        f"for {result.order_total}, refunded {result.refunded}; order is now {result.final_order_status}."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
