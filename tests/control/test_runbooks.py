"""`manage.py runbook`: the shipped runbooks lint clean and dry-run; a runbook's steps run as real child
processes (`manage.py flags ...` on a throwaway flags file), a failing check stops the run and rolls back
the steps done, every run/step/answer/rollback lands in the hash-chained flags audit log, and an
interrupted run resumes `--from` the step it names."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from contracts.cli import CheckFailed, UsageError
from control.errors import FileProblems
from control.runbooks import cli
from control.runbooks.lint import runbook_lint
from control.runbooks.model import read_runbook, runbook_list, runbook_paths
from control.runbooks.runner import read_state
from tests.strangler_proxy.conftest import write_flags_file

REPO = Path(__file__).resolve().parents[2]
SHIPPED_GATES = REPO / "strangler_proxy" / "gates.yaml"
FLAG = "route.catalog.read"


@pytest.fixture
def books(tmp_path, monkeypatch):
    """A runbooks folder, a flags file and an audit log of the test's own (child processes inherit them)."""
    folder = tmp_path / "runbooks"
    folder.mkdir()
    monkeypatch.setenv("RUNBOOKS_DIR", str(folder))
    monkeypatch.setenv("STRANGLER_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("FLAGS_FILE", str(write_flags_file(tmp_path / "flags.json")))
    monkeypatch.setenv("FLAGS_AUDIT_LOG", str(tmp_path / "audit.log"))
    return folder


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def flag_percentage() -> int:
    from control.runbooks.checks import flag_percentage as read

    return read(FLAG)


def audit_entries(tmp_path: Path) -> list[dict]:
    return [json.loads(line) for line in (tmp_path / "audit.log").read_text().splitlines()]


RAISE_THEN_FAIL = f"""
name: raise
title: raise then a check that cannot hold
kind: drill
steps:
  - id: five
    say: 5%
    run: manage.py flags rollout {FLAG} 5 --actor runbook-test
    check: {{flag: {FLAG}, expect: {{percentage: 5}}, timeout: 5s}}
    rollback:
      run: manage.py flags off {FLAG} --actor runbook-test
      check: {{flag: {FLAG}, expect: {{percentage: 0}}, timeout: 5s}}
  - id: twenty
    say: 20%, checked against 30%
    run: manage.py flags rollout {FLAG} 20 --actor runbook-test
    check: {{flag: {FLAG}, expect: {{percentage: 30}}, timeout: 1s}}
    rollback: manage.py flags off {FLAG} --actor runbook-test
  - id: never
    say: never reached
    run: manage.py flags rollout {FLAG} 100
    rollback: manage.py flags off {FLAG}
"""


def run(options: dict, capsys=None, **kwargs) -> int:
    base = {"command": "run", "dry_run": False, "from_step": None, "yes": True, "json": False}
    return cli.run({**base, **options}, out=sys.stdout, **kwargs)


STAGES = ("gateway", "products", "auth", "orders", "payments", "notifications")
DRILLS = (
    "product-service-down",
    "broker-down",
    "outbox-backlog",
    "dlq-growing",
    "shadow-mismatch-spike",
    "key-rotation",
)


def test_every_shipped_runbook_lints_clean(monkeypatch):
    monkeypatch.setenv("ROLLOUT_GATES_FILE", str(SHIPPED_GATES))
    result = runbook_lint()
    assert result.problems == []
    expected = {*STAGES, *(f"{stage}-rollback" for stage in STAGES), *DRILLS}
    assert expected <= set(result.runbooks)
    kinds = {book.name: book.kind for book in runbook_list()}
    assert {kinds[name] for name in DRILLS} == {"drill"}


@pytest.mark.parametrize("name", sorted(runbook_paths()))
def test_a_shipped_runbook_dry_runs_and_changes_nothing(name, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("ROLLOUT_GATES_FILE", str(SHIPPED_GATES))
    monkeypatch.setenv("STRANGLER_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("FLAGS_AUDIT_LOG", str(tmp_path / "flags-audit.log"))
    assert run({"name": name, "dry_run": True, "yes": False}) == 0
    out = capsys.readouterr().out
    book = read_runbook(runbook_paths()[name])
    for index, step in enumerate(book.steps, start=1):
        assert f"[{index}/{len(book.steps)}] {step.id}:" in out
    assert not (tmp_path / "runbooks").exists()  # a dry run writes no state
    assert not (tmp_path / "flags-audit.log").exists()  # nor any audit entry


def test_lint_parses_a_services_commands_with_the_services_own_parser(books, monkeypatch):
    monkeypatch.setenv("ROLLOUT_GATES_FILE", str(SHIPPED_GATES))
    path = write(
        books,
        "service",
        """name: service
title: a service's commands, read-only or not
kind: drill
steps:
  - id: dlq-list
    run: python -m extracted.order_service events dlq list --json
  - id: stuck
    run: python -m extracted.order_service sagas list --stuck --json
    check: {run: python -m extracted.order_service sagas list --stuk}
  - id: replay-plan
    run: python -m extracted.notification_service events dlq replay --all --consumer c --dry-run
  - id: replay
    run: python -m extracted.notification_service events dlq replay --all --consumer c
  - id: rotate
    run: python -m extracted.auth_service auth keys rotate --overlap -1
    rollback: {none: test}
  - id: unknown
    run: python -m extracted.order_service teleport
    rollback: {none: test}
  - id: no-service
    run: python -m extracted.nowhere_service check
  - id: gateway-plan
    run: manage.py gateway --routes strangler_proxy/routes.yaml --print-command
  - id: sessions
    run: manage.py legacy_sessions report --json
""",
    )
    problems = runbook_lint().problems
    by_line = {int(p.split(":")[1]): p.split(":", 2)[2] for p in problems}
    assert all(p.startswith(f"{path}:") for p in problems), problems
    assert "unrecognized arguments: --stuk" in by_line[9]
    assert "step replay changes something" in by_line[12]
    assert "auth keys rotate --overlap -1` does not parse" in by_line[15]
    assert "python -m extracted.order_service has no command 'teleport'" in by_line[18]
    assert "no service 'extracted.nowhere_service'" in by_line[21]
    assert set(by_line) == {9, 12, 15, 18, 21}, problems  # read-only and --dry-run steps need no rollback


def test_every_stage_runbook_names_a_rollback_runbook():
    books = [read_runbook(path) for path in runbook_paths().values()]
    kinds = {book.name: book.kind for book in books}
    stages = [book for book in books if book.kind == "stage"]
    assert stages
    for book in stages:
        assert kinds[book.rollback_runbook] == "rollback", book.name


def test_lint_names_each_problem_with_its_file_and_line(books, monkeypatch):
    monkeypatch.setenv("ROLLOUT_GATES_FILE", str(SHIPPED_GATES))
    path = write(
        books,
        "broken",
        """name: broken
title: every kind of mistake
kind: stage
rollback: nowhere
steps:
  - id: no-such-command
    run: manage.py teleport products
    rollback: {none: test}
  - id: bad-arguments
    run: manage.py flags rollout route.catalog.read 5 --bogus
    rollback: {none: test}
  - id: unknown-flag
    run: manage.py flags on route.nowhere
    rollback: manage.py flags off route.nowhere
  - id: unknown-route
    run: manage.py rollout start no.such.route
    rollback: manage.py rollout abort no.such.route
  - id: no-rollback
    run: manage.py flags rollout route.catalog.read 5
    check: {gates: orders.read}
  - id: unknown-entity
    run: manage.py sync widgets verify
""",
    )
    problems = runbook_lint().problems
    where = {int(p.split(":")[1]) for p in problems}
    assert all(p.startswith(f"{path}:") for p in problems), problems
    text = "\n".join(problems)
    assert "rollback runbook 'nowhere' does not exist" in text
    assert "manage.py has no command 'teleport'" in text
    assert "unrecognized arguments: --bogus" in text
    assert "flag 'route.nowhere' is not defined" in text
    assert "route 'no.such.route' is not in the route table" in text
    assert "step no-rollback changes something" in text
    assert "route 'orders.read' has no gates in the gates file" in text
    assert "invalid choice: 'widgets'" in text
    assert {1, 7, 10, 13, 16, 18, 20, 22} <= where, problems


def test_a_malformed_runbook_is_refused_with_every_problem_at_once(books):
    path = write(books, "bad", "name: other\nkind: sometimes\nsteps:\n  - id: Bad Id\n    run: x\n")
    with pytest.raises(FileProblems) as refused:
        read_runbook(path)
    text = refused.value.message
    assert f"{path}:1: name must be the file's stem 'bad'" in text
    assert "title is required" in text
    assert "kind must be one of stage, rollback, drill" in text
    assert "id is required: lowercase letters, digits and dashes" in text


def test_a_failing_check_stops_the_run_and_rolls_back_every_step_done(books, tmp_path, capsys):
    write(books, "raise", RAISE_THEN_FAIL)
    with pytest.raises(CheckFailed) as failed:
        run({"name": "raise", "rollback_on_failure": True})
    out = capsys.readouterr().out
    assert failed.value.code == "runbook_rolled_back"
    assert "step twenty: check FAILED: flag route.catalog.read expect percentage=30" in failed.value.message
    assert flag_percentage() == 0
    assert "[3/3] never" not in out
    assert "rollback: $ manage.py flags off route.catalog.read --actor runbook-test" in out
    entries = audit_entries(tmp_path)
    ours = [(e["action"], e["after"].get("id")) for e in entries if e["flag"] == "runbook:raise"]
    assert ours == [
        ("runbook.start", None),
        ("runbook.step", "five"),
        ("runbook.step", "twenty"),
        ("runbook.rollback", "twenty"),
        ("runbook.end", None),
    ]
    flag_changes = [e["action"] for e in entries if e["flag"] == FLAG]
    assert flag_changes == ["rollout 5%", "rollout 20%", "off"]
    assert entries[-1]["after"]["outcome"] == "rolled_back"
    verify = subprocess.run(
        [sys.executable, "manage.py", "flags", "audit", "--verify"], cwd=REPO, capture_output=True, text=True
    )
    assert verify.returncode == 0, verify.stderr


def test_without_rollback_on_failure_the_rollback_is_offered_and_the_answer_audited(books, tmp_path, capsys):
    write(books, "raise", RAISE_THEN_FAIL)
    questions: list[str] = []

    def answer(question: str) -> bool:
        questions.append(question)
        return not question.startswith("roll back")  # yes to the steps, no to the rollback

    with pytest.raises(CheckFailed) as failed:
        run({"name": "raise", "yes": False}, confirm=answer)
    out = capsys.readouterr().out
    assert failed.value.code == "runbook_failed"
    assert questions[-1] == "roll back the 2 steps done?"
    assert "rollback offered, not run; to undo the steps done, in this order:" in out
    assert flag_percentage() == 20
    answers = [e["after"] for e in audit_entries(tmp_path) if e["action"] == "runbook.answer"]
    assert [a["answer"] for a in answers] == ["yes", "yes", "no"]
    assert read_state("raise")["status"] == "failed"


def test_a_run_off_a_terminal_without_yes_is_refused_before_anything_runs(books, tmp_path):
    write(books, "raise", RAISE_THEN_FAIL)
    with pytest.raises(UsageError, match="pass --yes"):
        run({"name": "raise", "yes": False}, stdin_is_tty=False)
    assert not (tmp_path / "audit.log").exists()


def test_an_interrupted_run_names_its_step_and_resumes_from_it(books, tmp_path):
    # step twenty's check waits 2 minutes for a percentage that never comes: the interrupt lands in it
    slow = RAISE_THEN_FAIL.replace(
        "expect: {percentage: 30}, timeout: 1s", "expect: {percentage: 30}, timeout: 2m"
    )
    assert slow != RAISE_THEN_FAIL
    write(books, "raise", slow)
    child = subprocess.Popen(
        [sys.executable, "manage.py", "runbook", "run", "raise", "--yes"],
        cwd=REPO,
        env=os.environ.copy(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # a run started from a background job inherits SIGINT ignored (CI's runner): give it Ctrl-C back
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        deadline = time.monotonic() + 60
        while (read_state("raise") or {}).get("next_step") != "twenty" or flag_percentage() != 20:
            assert time.monotonic() < deadline, "the run never reached step twenty"
            time.sleep(0.2)
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=30)
    finally:
        child.kill()
    assert child.returncode == 130, err
    assert "resume with `runbook run raise --from twenty`" in out
    assert read_state("raise")["status"] == "interrupted"
    write(books, "raise", RAISE_THEN_FAIL.replace("percentage: 30", "percentage: 20"))
    assert run({"name": "raise", "from_step": "twenty", "json": True}) == 0
    assert flag_percentage() == 100
    runs = [e["after"] for e in audit_entries(tmp_path) if e["action"] in {"runbook.start", "runbook.end"}]
    assert [(r.get("start"), r.get("outcome")) for r in runs] == [
        ("five", None),
        (None, "interrupted"),
        ("twenty", None),
        (None, "done"),
    ]
