"""`manage.py rollout` and the gated `manage.py flags` raises on the command-line convention: a refusal is a
failed check (exit 1) printed as one line and then one line per failed gate, each saying by how much; bad
usage is one line and exit 2. Driven as from the command line (run_from_argv), in-process on the test
databases."""

from datetime import timedelta

import pytest
from django.core.management import get_commands, load_command_class
from django.utils import timezone

from migrations_data.models import SyncCheckpoint
from tests.strangler_proxy.conftest import write_flags_file

control_db = pytest.mark.django_db(databases=["default", "control", "shadow"])


def run_command(*argv: str) -> int:
    name = argv[0]
    command = load_command_class(get_commands()[name], name)
    try:
        command.run_from_argv(["manage.py", *argv])
    except SystemExit as exited:
        return int(exited.code or 0)
    return 0


@pytest.fixture
def two_gates(tmp_path, monkeypatch):
    """catalog.read gated by a verify within 1h and a sync lag under 30 s; the last clean verify is 3h old."""
    monkeypatch.setenv("FLAGS_FILE", str(write_flags_file(tmp_path / "flags.json")))
    monkeypatch.setenv("FLAGS_AUDIT_LOG", str(tmp_path / "audit.log"))
    gates = tmp_path / "gates.yaml"
    gates.write_text(
        "routes:\n  catalog.read:\n    verify: {entity: products, within: 1h}\n"
        "    shadow: {min_match: 99.9, min_pairs: 100}\n"
    )
    monkeypatch.setenv("ROLLOUT_GATES_FILE", str(gates))
    SyncCheckpoint.objects.create(
        name="products.verify.clean", finished_at=timezone.now() - timedelta(hours=3)
    )
    return tmp_path


@control_db
def test_a_refused_flag_raise_prints_one_line_per_failed_gate_and_exits_1(two_gates, capsys):
    code = run_command("flags", "rollout", "route.catalog.read", "25")

    err = capsys.readouterr().err.splitlines()
    assert code == 1
    assert err[0] == (
        "flags rollout: gate_refused: raise of route.catalog.read from 0% to 25% refused by 2 gates:"
    )
    assert err[1:] == [
        "flags rollout: gate_refused: shadow: 0 pairs compared, 100 short of the 100 required",
        "flags rollout: gate_refused: verify: last clean verify of products is 3h old, older than 1h (by 2h)",
    ]
    assert not (two_gates / "audit.log").exists()


@control_db(transaction=True)
def test_a_refused_rollout_start_prints_one_line_per_failed_gate_and_exits_1(two_gates, capsys):
    code = run_command("rollout", "start", "catalog.read", "--steps", "5,25", "--step-time", "10s")

    err = capsys.readouterr().err.splitlines()
    assert code == 1
    assert err == [
        "rollout start: gate_refused: route catalog.read: refused by 2 gates:",
        "rollout start: gate_refused: shadow: 0 pairs compared, 100 short of the 100 required",
        "rollout start: gate_refused: verify: last clean verify of products is 3h old, older than 1h (by 2h)",
    ]


@control_db
@pytest.mark.parametrize(
    ("argv", "line"),
    [
        (
            ["rollout", "start", "no.such.route"],
            "rollout start: unknown_route: route 'no.such.route' is not in the route table",
        ),
        (
            ["rollout", "start", "catalog.read", "--steps", "50,5"],
            "rollout start: bad_steps: --steps must rise strictly within 1..100, got '50,5'",
        ),
        (
            ["rollout", "start", "catalog.read", "--step-time", "soon"],
            "rollout start: invalid_usage: argument --step-time: not a duration",
        ),
        (
            ["rollout", "resume", "catalog.read"],
            "rollout resume: no_active_rollout: route catalog.read has no running or paused rollout",
        ),
    ],
)
def test_bad_usage_of_rollout_is_one_line_and_exit_2(two_gates, capsys, argv, line):
    code = run_command(*argv)

    err = capsys.readouterr().err.splitlines()
    assert code == 2
    assert len(err) == 1
    assert err[0].startswith(line)
