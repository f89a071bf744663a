"""The monolith environment of the gateway and shadow benches: DEBUG off, as production runs it."""

import os

from bench.gateway_stack import monolith_bench_env
from legacy_monolith.demo.processes import manage

REFUSED_AT_DEV_DEFAULTS = (
    "SECRET_KEY",
    "PAYMENT_WEBHOOK_SECRET",
    "INTERNAL_API_TOKEN",
    "INTERNAL_IDENTITY_KEY",
)


def test_the_monolith_loads_its_settings_with_debug_off_in_the_bench_environment(monkeypatch):
    for name in REFUSED_AT_DEV_DEFAULTS:  # only the bench's values, none inherited from this shell
        monkeypatch.delenv(name, raising=False)
    env = monolith_bench_env(os.environ["DATABASE_URL"], identity_key="k" * 43)
    assert env["DEBUG"] == "false"
    result = manage("check", env=env)
    assert "System check identified no issues" in result.stdout


def test_every_run_gets_fresh_secrets_and_the_identity_key_it_shares_with_its_gateways():
    first, second = (monolith_bench_env("postgres:///x", identity_key=key) for key in ("a" * 43, "b" * 43))
    assert (first["INTERNAL_IDENTITY_KEY"], second["INTERNAL_IDENTITY_KEY"]) == ("a" * 43, "b" * 43)
    for name in ("SECRET_KEY", "PAYMENT_WEBHOOK_SECRET", "INTERNAL_API_TOKEN"):
        assert first[name] != second[name]
