"""Simulated external providers (two card gateways) for development, tests and fault injection.

Run with `python -m sandbox --port 8900`. See sandbox/README.md for the HTTP API of each gateway and the
`/_sandbox` control plane (knobs, reset, webhook log and replay).
"""

# How tests/test_commands_convention.py drives `python -m sandbox` into each failure (CONVENTIONS.md).
CLI_EXAMPLES = {"port": ["--port", "{port}"], "bad_argument": ["--port", "x"]}
