"""The base of each service's `grpc` command: serve its gRPC services (and grpc.health.v1) on its
`<SERVICE>_GRPC_PORT` or --bind. With INTERNAL_TLS_* set: TLS with client certificates from the internal CA,
each method open to the same services as its REST twin. `--processes N` forks N servers sharing the port
(SO_REUSEPORT).

    class Command(GrpcCommand):
        registrations = "extracted.product_service.rpc.registrations"   # () -> [Registration]
        port_setting = "PRODUCT_GRPC_PORT"
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys

from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils.module_loading import import_string

from chassis.management.commands.serve import check_bind
from contracts import cli


class GrpcCommand(cli.ToolkitCommand, BaseCommand):
    help = "Serve this service's gRPC services (and grpc.health.v1) for the saga's hot calls."
    # How tests/test_commands_convention.py drives this command into each failure (CONVENTIONS.md).
    cli_examples = {"port": ["--bind", "127.0.0.1:{port}"], "bad_argument": ["--threads", "0"]}
    registrations: str = ""
    port_setting: str = ""

    def add_arguments(self, parser):
        parser.add_argument(
            "--bind",
            default=f"127.0.0.1:{getattr(settings, self.port_setting)}",
            help=f"host:port to listen on (default %(default)s: {self.port_setting})",
        )
        parser.add_argument(
            "--threads", type=cli.positive_int, default=8, help="calls served at once per process"
        )
        parser.add_argument(
            "--processes", type=cli.positive_int, default=1, help="server processes on the port"
        )

    def handle(self, *args, bind: str, threads: int = 8, processes: int = 1, **options):
        check_bind(bind)
        sys.stdout.flush()
        if processes == 1:
            self.serve_one(bind=bind, threads=threads, reuse_port=False)
        else:
            self.serve_many(bind=bind, threads=threads, processes=processes)

    def serve_one(self, *, bind: str, threads: int, reuse_port: bool) -> None:
        from chassis.grpc_server import build_server, serve_forever

        registrations = import_string(self.registrations)()
        running = build_server(
            registrations, bind=bind, threads=threads, mutual=settings.INTERNAL_TLS, reuse_port=reuse_port
        )
        names = ", ".join(r.name for r in registrations)
        print(f"gRPC {names} on {bind.rsplit(':', 1)[0]}:{running.port} (pid {os.getpid()})", flush=True)
        serve_forever(running)

    def serve_many(self, *, bind: str, threads: int, processes: int) -> None:
        """Fork before any gRPC object exists (gRPC core does not survive a fork); SIGTERM reaches each."""
        children = []
        for _ in range(processes):
            pid = os.fork()
            if pid == 0:
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                try:
                    self.serve_one(bind=bind, threads=threads, reuse_port=True)
                finally:
                    os._exit(0)
            children.append(pid)

        def forward(signum, _frame):
            for child in children:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(child, signal.SIGTERM)

        signal.signal(signal.SIGTERM, forward)
        signal.signal(signal.SIGINT, forward)
        for child in children:
            os.waitpid(child, 0)
