"""The scripted TechStore demo: real processes, a real shopping journey over HTTP."""

# How tests/test_commands_convention.py drives `python -m legacy_monolith.demo` into each failure.
CLI_EXAMPLES = {"bad_argument": ["--nope"]}
