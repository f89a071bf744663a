"""The bootstrap job for real: every command it runs (migrations of three projects, the OAuth client, the
flags, the seed) against throwaway PostgreSQL databases, twice, the second run changing nothing.

The registry's addresses (postgres-techstore, unleash, ...) exist only inside compose or a cluster: the
runner translates each component's URLs to this machine's servers (PostgreSQL, a real Unleash server).
Everything else is what the Job runs."""

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from deploy import bootstrap
from deploy import topology as t
from deploy.secrets import new_value

ROOT = Path(__file__).resolve().parents[2]
BASE = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/techstore").rsplit("/", 1)[0]


@pytest.fixture
def databases():
    suffix = uuid.uuid4().hex[:8]
    variables = ("DATABASE_URL", "SHADOW_DATABASE_URL", "PRODUCT_DATABASE_URL", "AUTH_DATABASE_URL",
                 "ORDER_DATABASE_URL", "PAYMENT_DATABASE_URL", "CONTROL_DATABASE_URL",
                 "NOTIFICATION_DATABASE_URL")  # fmt: skip
    names = {var: f"boot_{var.split('_')[0].lower()}_{suffix}" for var in variables}
    for name in names.values():
        subprocess.run(["psql", f"{BASE}/postgres", "-qc", f"CREATE DATABASE {name}"], check=True)
    yield {var: f"{BASE}/{name}" for var, name in names.items()}
    for name in names.values():
        subprocess.run(
            ["psql", f"{BASE}/postgres", "-qc", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"], check=True
        )


def local_runner(databases, tmp_path, unleash=None):
    def run(argv, env):
        local = {k: v for k, v in env.items() if not k.startswith("UNLEASH_")}
        local.update(unleash.env() if unleash and "UNLEASH_URL" in env else {})
        local.update({var: url for var, url in databases.items() if var in env})
        local.update(
            STRANGLER_VAR_DIR=str(tmp_path / "var"),
            FLAGS_FILE=str(tmp_path / "flags.json"),
            FLAGS_AUDIT_LOG=str(tmp_path / "flags-audit.log"),
            REDIS_URL=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
            BROKER_URL="",
            CATALOG_STORE_URL="orm",
            SHADOW_RULES=str(ROOT / "shadow" / "rules.yaml"),
            FAST_PASSWORD_HASHER="true",
        )
        return bootstrap.run_command(argv, local)

    return run


def test_bootstrap_prepares_everything_once_and_a_rerun_changes_nothing(databases, tmp_path, unleash_server):
    secrets = {s.name: new_value(s) for s in t.SECRETS}
    environ = {**os.environ, **secrets, "BOOTSTRAP_SEED": "--users 3 --products 12 --orders 2 --seed 7"}
    run = local_runner(databases, tmp_path, unleash_server)

    first = {s.step: s.detail for s in bootstrap.bootstrap(environ, run=run).steps}
    assert first["migrate"] == "migrated monolith, product, auth, order, payment, notification"
    assert first["oauth-client"] == "client web created"
    assert first["flags"].startswith("created ")
    assert "route.catalog.read" in first["flags"]
    assert first["seed"].startswith("seeded ")

    flags = [sys.executable, "manage.py", "flags"]
    env = {**os.environ, "DATABASE_URL": databases["DATABASE_URL"], **unleash_server.env(),
           "FLAGS_AUDIT_LOG": str(tmp_path / "flags-audit.log")}  # fmt: skip
    subprocess.run(
        [*flags, "rollout", "route.catalog.read", "30", "--actor", "ops"], env=env, cwd=ROOT, check=True
    )

    second = {s.step: s.detail for s in bootstrap.bootstrap(environ, run=run, skip=("migrate",)).steps}
    assert second["oauth-client"] == "client web exists"
    assert second["flags"].startswith("all ")
    assert second["seed"].startswith("already seeded")
    shown = subprocess.run([*flags, "show", "route.catalog.read", "--json"], env=env, cwd=ROOT,
                           capture_output=True, text=True, check=True)  # fmt: skip
    assert '"30"' in shown.stdout, "a restart's bootstrap undid a rollout"


def test_bootstrap_names_the_step_and_the_missing_secret_and_exits_2(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in t.SECRET_NAMES}
    result = subprocess.run([sys.executable, "-m", "deploy.bootstrap", "--no-progress"], env=env, cwd=ROOT,
                            capture_output=True, text=True)  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.startswith("bootstrap: migrate: monolith: secrets not set: ")
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_failing_command_stops_the_bootstrap_with_its_last_line(databases, tmp_path):
    secrets = {s.name: new_value(s) for s in t.SECRETS}
    environ = {**os.environ, **secrets}
    run = local_runner(
        {**databases, "DATABASE_URL": f"{BASE}/no_such_database_{uuid.uuid4().hex[:6]}"}, tmp_path
    )
    expected = r"^migrate: manage.py migrate --noinput: exit 2: .*does not exist"
    with pytest.raises(bootstrap.BootstrapFailed, match=expected):
        bootstrap.bootstrap(environ, run=run)
