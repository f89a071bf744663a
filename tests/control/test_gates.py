"""Evidence gates: the files are checked with file:line errors; the flags commands refuse a raise that fails
a gate (one line per gate, by how much), accept it forced with a reason (audited), never gate a lowering,
and fail closed without Django."""

import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from control.errors import FileProblems
from control.gates.spec import load_gates
from control.rollout.policy import load_policy
from control.routes_file import load_route_infos
from migrations_data.engine.checkpoint import verify_record
from migrations_data.models import SyncCheckpoint
from tests.strangler_proxy.conftest import write_flags_file

REPO = Path(__file__).resolve().parents[2]
control_db = pytest.mark.django_db(databases=["default", "control"])


def test_the_shipped_gates_and_policy_files_are_valid():
    routes = load_route_infos()
    assert "catalog.read" in load_gates(REPO / "strangler_proxy" / "gates.yaml", routes).routes
    assert (
        load_policy(REPO / "control" / "rollout" / "policy.yaml", routes)
        .for_route("catalog.read")
        .min_requests
        == 100
    )


def test_a_bad_gates_file_names_every_problem_with_its_line(tmp_path):
    bad = tmp_path / "gates.yaml"
    bad.write_text(
        "routes:\n"
        "  catalog.read:\n"
        "    verify: {entity: orders, within: 24h}\n"
        "    sync_lag: {entity: products, max: soon}\n"
        "  no.such.route: {}\n"
        "  auth.login:\n"
        "    shadow: {min_match: 120}\n"
    )
    with pytest.raises(FileProblems) as refused:
        load_gates(bad)
    lines = refused.value.extra["problems"]
    assert f"{bad}:3: routes.catalog.read.verify.entity: 'orders' is not one of products, users" in lines
    assert any(
        line.startswith(f"{bad}:4: routes.catalog.read.sync_lag.max: not a duration") for line in lines
    )
    assert f"{bad}:5: routes.no.such.route: not a route of the route table" in lines
    assert f"{bad}:7: routes.auth.login.shadow: min_pairs is required" in lines


def test_a_bad_policy_file_names_its_line(tmp_path):
    bad = tmp_path / "policy.yaml"
    bad.write_text("defaults:\n  alpha: 2\nroutes:\n  api.v2: {}\n")
    with pytest.raises(FileProblems) as refused:
        load_policy(bad)
    assert refused.value.extra["problems"] == [
        f"{bad}:2: defaults.alpha: must be from 1e-09 to 0.5, got 2",
        f"{bad}:4: routes: 'api.v2' has no flag moving it from legacy to a target",
    ]


@pytest.fixture
def gated(tmp_path, monkeypatch):
    flags_file = write_flags_file(tmp_path / "flags.json")
    monkeypatch.setenv("FLAGS_FILE", str(flags_file))
    monkeypatch.setenv("FLAGS_AUDIT_LOG", str(tmp_path / "audit.log"))
    gates = tmp_path / "gates.yaml"
    gates.write_text("routes:\n  catalog.read:\n    verify: {entity: products, within: 1h}\n")
    monkeypatch.setenv("ROLLOUT_GATES_FILE", str(gates))
    return tmp_path


def audit(tmp_path) -> list[dict]:
    return [json.loads(line) for line in (tmp_path / "audit.log").read_text().splitlines()]


@control_db
def test_a_raise_is_refused_naming_the_gate_and_by_how_much(gated):
    SyncCheckpoint.objects.create(
        name="products.verify.clean", finished_at=timezone.now() - timedelta(hours=3)
    )
    with pytest.raises(CommandError) as refused:
        call_command("flags", "rollout", "route.catalog.read", "25")
    message = str(refused.value)
    assert "raise of route.catalog.read from 0% to 25% refused by 1 gate" in message
    assert "verify: last clean verify of products is 3h old, older than 1h (by 2h)" in message
    assert not (gated / "audit.log").exists()


@control_db
def test_a_clean_verify_lets_the_raise_through_and_lowering_is_never_gated(gated):
    verify_record(entity="products", differences=0, clean=True)
    call_command("flags", "rollout", "route.catalog.read", "25", "--actor", "ops")
    SyncCheckpoint.objects.filter(name="products.verify.clean").update(
        finished_at=timezone.now() - timedelta(days=2)
    )
    call_command("flags", "rollout", "route.catalog.read", "5", "--actor", "ops")
    call_command("flags", "off", "route.catalog.read", "--actor", "ops")
    assert [e["action"] for e in audit(gated)] == ["rollout 25%", "rollout 5%", "off"]


@control_db
def test_a_forced_raise_needs_a_reason_and_is_audited_with_it(gated):
    with pytest.raises(CommandError, match="--force needs --reason"):
        call_command("flags", "on", "route.catalog.read", "--force")
    call_command(
        "flags", "on", "route.catalog.read", "--force", "--reason", "verify runs tonight", "--actor", "ops"
    )
    entry = audit(gated)[-1]
    assert entry["action"] == "on"
    assert entry["note"] == {
        "forced": True,
        "reason": "verify runs tonight",
        "failed_gates": ["verify: no clean `sync products verify` recorded (need one within 1h)"],
    }


def test_without_django_a_route_raise_fails_closed_unless_forced(tmp_path):
    flags_file = write_flags_file(tmp_path / "flags.json")
    env = {
        "FLAGS_FILE": str(flags_file),
        "FLAGS_AUDIT_LOG": str(tmp_path / "audit.log"),
        "PATH": "/usr/bin:/bin",
    }
    refused = subprocess.run(
        [sys.executable, "-m", "flags", "rollout", "route.catalog.read", "10"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert refused.returncode == 1
    assert "gates: no gate check is loaded" in refused.stderr
    forced = subprocess.run(
        [
            sys.executable,
            "-m",
            "flags",
            "rollout",
            "route.catalog.read",
            "10",
            "--force",
            "--reason",
            "no Django here",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert forced.returncode == 0, forced.stderr
    lowered = subprocess.run(
        [sys.executable, "-m", "flags", "off", "route.catalog.read"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert lowered.returncode == 0
