"""The SMTP server of bench-notifications: aiosmtpd in a process of its own (so it never shares the bench's
GIL with the publisher), accepting every message and printing one line per recipient on stdout the moment
DATA is accepted: `<time.time()> <recipient>`. The bench reads those lines as the receipts.

    python -m bench.smtp_sink --port 2525
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time

from aiosmtpd.controller import Controller


class Sink:
    """Accepts every message; the receipt time is taken when DATA is complete, before answering 250."""

    def __init__(self, out):
        self.out = out

    async def handle_DATA(self, server, session, envelope):
        now = time.time()
        self.out.write("".join(f"{now:.6f} {rcpt}\n" for rcpt in envelope.rcpt_tos))
        self.out.flush()
        return "250 Message accepted for delivery"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.smtp_sink", description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    controller = Controller(Sink(sys.stdout), hostname=args.host, port=args.port)
    controller.start()
    print(f"ready {args.host}:{args.port}", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    controller.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
