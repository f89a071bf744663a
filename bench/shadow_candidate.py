"""The candidate of `make bench-shadow`: a keep-alive HTTP server (aiohttp) that answers every GET with the
bytes of one file as JSON, as cheaply as a real service could, so the bench measures the gateway's cost of
mirroring and not the candidate's.

python -m bench.shadow_candidate --port 8201 --body product.json
"""

from __future__ import annotations

import argparse
from pathlib import Path

from aiohttp import web


def make_app(body: bytes) -> web.Application:
    async def answer(request: web.Request) -> web.Response:
        return web.Response(body=body, content_type="application/json")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", answer)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.shadow_candidate")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--body", type=Path, required=True, help="the file every answer carries")
    args = parser.parse_args()
    web.run_app(
        make_app(args.body.read_bytes()), host="127.0.0.1", port=args.port, print=None, access_log=None
    )


if __name__ == "__main__":
    main()
