"""`python -m sandbox --port 8900 [--host 127.0.0.1]`: serve both simulated gateways in one process.

`--port 0` picks a free port. The first line on stdout is always `sandbox listening on http://host:port`.
"""

from __future__ import annotations

import argparse
import errno
import logging
import socket
import sys

from werkzeug.serving import make_server

from .app import base_knobs_from_env, create_app


class _Parser(argparse.ArgumentParser):
    """One-line usage errors, exit 2: the project's command-line convention (CONVENTIONS.md). The sandbox
    stands for an external provider and imports nothing of the project, so it does not use contracts/cli."""

    def error(self, message: str):
        self.exit(2, f"sandbox: invalid_usage: {message} (see --help)\n")


def _port(raw: str) -> int:
    if not raw.isdigit() or int(raw) > 65535:
        raise argparse.ArgumentTypeError(f"{raw!r} is not a port from 0 to 65535")
    return int(raw)


def _check_port_free(host: str, port: int) -> None:
    if port:
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))


def main(argv: list[str] | None = None) -> int:
    parser = _Parser(prog="python -m sandbox", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=_port, default=8900)
    parser.add_argument("--api-key", help="API key both gateways accept (env SANDBOX_API_KEY)")
    parser.add_argument("--webhook-secret", help="HMAC secret for webhooks (env SANDBOX_WEBHOOK_SECRET)")
    parser.add_argument(
        "--webhook-url",
        help="where to POST events, {gateway} is filled in (env SANDBOX_WEBHOOK_URL), e.g. "
        "http://127.0.0.1:8000/api/v1/payments/webhooks/{gateway}",
    )
    parser.add_argument("--quiet", action="store_true", help="no per-request access log")
    args = parser.parse_args(argv)

    app = create_app(
        base_knobs_from_env(
            api_key=args.api_key, webhook_secret=args.webhook_secret, webhook_url=args.webhook_url
        )
    )
    if args.quiet:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
    try:
        _check_port_free(args.host, args.port)  # werkzeug would print two lines and exit 1 itself
        server = make_server(args.host, args.port, app, threaded=True)
    except OSError as exc:
        if exc.errno not in (errno.EADDRINUSE, errno.EACCES, errno.EADDRNOTAVAIL):
            raise
        print(
            f"sandbox: port_in_use: --port {args.port}: cannot listen on {args.host}:{args.port} "
            f"({exc.strerror}); pick another port or stop what listens there",
            file=sys.stderr,
        )
        return 2
    print(f"sandbox listening on http://{args.host}:{server.server_port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
