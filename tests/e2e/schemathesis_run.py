"""One schemathesis run (`st run --checks all`, in its own process) for the e2e tests: a schema, the base URL
to send to, a few examples per operation and a fixed seed, with the allow-list of tests/e2e/schemathesis.toml
(`[[project]]` blocks keyed by the schema's title, each entry with its reason) and the hooks of
tests/e2e/schemathesis_hooks.py. The test fails on any failure the allow-list does not name."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
ST = str(Path(sys.executable).with_name("st"))
CONFIG = HERE / "schemathesis.toml"
HOOKS = HERE / "schemathesis_hooks.py"
MAX_EXAMPLES = 3
SEED = 12
REQUEST_TIMEOUT = 60


def run_schemathesis(
    schema_url: str,
    *,
    base_url: str,
    cwd: Path,
    headers: Mapping[str, str] | None = None,
    identity_key: str = "",
    extra_args: Sequence[str] = (),
    timeout: float = 600,
) -> subprocess.CompletedProcess:
    """Run `st` against `schema_url`, requests to `base_url`; `identity_key`: every request also carries a
    signed staff X-Strangler-Identity (schemathesis_hooks.py). Fails the test unless every check passed."""
    argv = [ST, "--config-file", str(CONFIG), "run", schema_url, "--url", base_url]
    for name, value in (headers or {}).items():
        argv += ["-H", f"{name}: {value}"]
    argv += ["--max-examples", str(MAX_EXAMPLES), "--seed", str(SEED), "--workers", "2", "--no-color"]
    # generous: on a busy machine a 1000-range verify body took longer than st's default and was reported
    # as a network error; a slow answer is not what these runs look for
    argv += ["--request-timeout", str(REQUEST_TIMEOUT)]
    env = {
        **os.environ,
        "NO_COLOR": "1",
        "SCHEMATHESIS_HOOKS": str(HOOKS),
        "STRANGLER_IDENTITY_KEY": identity_key,
    }
    done = subprocess.run(
        [*argv, *extra_args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert done.returncode == 0, f"{' '.join(argv)}\n{done.stdout[-8000:]}{done.stderr[-2000:]}"
    return done
