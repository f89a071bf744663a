"""Load suites (locust): one locustfile per migration stage, the shopping journey's mix weighted as a shop's
traffic, run headless by `python -m load` (`make load STAGE=... USERS=... DURATION=...`). Kept out of
pytest's collection (pytest reads tests/ only); tests/load/ runs a 10-second smoke of one stage."""

# How tests/test_commands_convention.py drives `python -m load` into each failure (CONVENTIONS.md).
CLI_EXAMPLES = {"bad_argument": ["--stage", "1", "--users", "many"]}
