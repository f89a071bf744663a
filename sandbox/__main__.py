"""`python -m sandbox --port 8900 [--host 127.0.0.1]`: serve both simulated gateways in one process.

`--port 0` picks a free port. The first line on stdout is always `sandbox listening on http://host:port`.
"""

from __future__ import annotations

import argparse
import logging
import sys

from werkzeug.serving import make_server

from .app import base_knobs_from_env, create_app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8900)
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
    server = make_server(args.host, args.port, app, threaded=True)
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
