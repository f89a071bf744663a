"""How the gateway is started: the mitmdump command line, built in one place for the `gateway` command,
`make gateway` and the tests."""

from __future__ import annotations

import sys
from pathlib import Path

ADDON_SCRIPT = Path(__file__).resolve().parent / "addon.py"
DEFAULT_ROUTES = Path(__file__).resolve().parent / "routes.yaml"

# mitmdump settings every gateway run needs (see /work/shared/notes/mitmproxy-as-gateway.md):
# lazy upstream connections (eager ones pin a worker of the default upstream when a request is routed
# elsewhere), no flow printing, large bodies streamed instead of buffered.
GATEWAY_SETTINGS = {
    "connection_strategy": "lazy",
    "flow_detail": "0",
    "stream_large_bodies": "1m",
    "termlog_verbosity": "warn",
}


def mitmdump_argv(
    *, legacy_url: str, listen_host: str, port: int, routes: Path | None = None, mitmdump: str | None = None
) -> list[str]:
    """argv for `mitmdump --mode reverse:<legacy> -s strangler_proxy/addon.py` with the gateway's settings."""
    binary = mitmdump or str(Path(sys.executable).with_name("mitmdump"))
    argv = [
        binary,
        "--mode",
        f"reverse:{legacy_url}",
        "--listen-host",
        listen_host,
        "--listen-port",
        str(port),
        "-s",
        str(ADDON_SCRIPT),
    ]
    settings = dict(GATEWAY_SETTINGS)
    if routes is not None:
        settings["strangler_routes"] = str(routes)
    for name, value in settings.items():
        argv += ["--set", f"{name}={value}"]
    return argv
