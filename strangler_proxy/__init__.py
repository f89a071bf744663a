"""The strangler gateway: mitmproxy addons (tracing, edge identity, routing, ...) and the route table."""

# How tests/test_commands_convention.py drives `python -m strangler_proxy` into each failure (CONVENTIONS.md).
CLI_EXAMPLES = {
    "port": [
        ["--workers", "1", "--listen", "127.0.0.1:{port}"],
        ["--workers", "1", "--listen", "127.0.0.1:0", "--set", "strangler_metrics_port={port}"],
    ],
    "bad_argument": ["--workers", "0"],
}
