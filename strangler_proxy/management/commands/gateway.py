"""`manage.py gateway`: check the route table, then run the strangler gateway in the foreground."""

import os
from pathlib import Path

from django.core.management.base import BaseCommand

from contracts import cli
from contracts.addresses import port_of, url_of, urls_from_ports
from strangler_proxy.launch import (
    DEFAULT_ROUTES,
    RUNNERS,
    LaunchError,
    check_routes,
    plan_launch,
    split_listen,
)
from strangler_proxy.routes_parser import RoutesError


class Command(cli.ToolkitCommand, BaseCommand):
    help = (
        "Run the strangler gateway (mitmproxy + strangler_proxy addons) in front of the monolith. "
        "The route table is checked first; a bad one stops here with its file and line."
    )
    # How tests/test_commands_convention.py drives this command into each failure (CONVENTIONS.md). Exit
    # codes and error codes are those of `python -m strangler_proxy` for the same error.
    cli_examples = {"port": ["--listen", "127.0.0.1:{port}"], "bad_argument": ["--workers", "0"]}

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--listen",
            default=os.environ.get("GATEWAY_LISTEN") or f"127.0.0.1:{port_of('GATEWAY')}",
            help="HOST:PORT (GATEWAY_LISTEN, default 127.0.0.1:GATEWAY_PORT (8080))",
        )
        parser.add_argument(
            "--routes",
            default=os.environ.get("ROUTES_FILE") or str(DEFAULT_ROUTES),
            help="the route table (ROUTES_FILE, default strangler_proxy/routes.yaml)",
        )
        parser.add_argument(
            "--workers",
            type=cli.positive_int,
            default=int(os.environ.get("GATEWAY_WORKERS") or 1),
            help="gateway processes sharing the port; more than 1 needs the fast runner (GATEWAY_WORKERS, 1)",
        )
        parser.add_argument(
            "--upstream",
            default=url_of("MONOLITH"),
            help="the monolith, where unmatched requests go (MONOLITH_URL, default 127.0.0.1:MONOLITH_PORT)",
        )
        parser.add_argument(
            "--runner",
            choices=RUNNERS,
            default=os.environ.get("GATEWAY_RUNNER", "auto"),
            help="auto (default): the fast runner when present, else mitmdump (GATEWAY_RUNNER)",
        )
        parser.add_argument(
            "--print-command", action="store_true", help="print what would run, and do not run it"
        )

    def handle(self, *args, **options) -> None:
        routes = Path(options["routes"]).resolve()
        if not routes.is_file():
            raise cli.UsageError(f"--routes {options['routes']!r}: no such file")
        try:
            launch = plan_launch(
                listen=options["listen"],
                routes=routes,
                workers=options["workers"],
                upstream=options["upstream"],
                runner=options["runner"],
            )
            env = {**os.environ, **urls_from_ports(), **launch.env}  # routes.yaml's ${X_URL}s follow X_PORT
            count = check_routes(routes, env)
        except LaunchError as exc:
            raise cli.UsageError(str(exc)) from exc
        except RoutesError as exc:
            raise cli.UsageError(str(exc), code="invalid_routes") from exc
        if not options["print_command"]:
            host, port = split_listen(options["listen"])
            cli.check_port_free(host, port, "--listen")
        self.stdout.write(f"route table {routes}: {count} routes; runner: {launch.runner}")
        self.stdout.write(" ".join(launch.argv))
        if options["print_command"]:
            return
        self.stdout.flush()
        os.execve(launch.argv[0], launch.argv, env)  # noqa: S606 - the gateway replaces this process
