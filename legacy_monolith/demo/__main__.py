"""`make demo`: the embedded profile (SQLite, no servers), real processes, a scripted shopping journey."""

from __future__ import annotations

import shutil
import sys

from rich.console import Console
from rich.table import Table

from contracts import cli

from .journey import Journey, JourneyError, Step
from .processes import REPO_ROOT, ProcessStartError
from .stack import running_stack

# A back-office account that seed_techstore creates (development data only). The demo is a plain HTTP
# client and loads no Django, so the password is repeated here; a test pins it to the seed's DEMO_PASSWORD.
DEMO_STAFF = ("staff1", "techstore-demo")


def main(argv: list[str] | None = None) -> int:
    cli.ArgumentParser(
        prog="python -m legacy_monolith.demo", error_prog="demo", description=__doc__
    ).parse_args(argv)

    console = Console()
    var_dir = REPO_ROOT / "var" / "demo"
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
