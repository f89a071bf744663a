"""`manage.py flags ...` against the flags file: each command, its audit entries, and bad input."""

import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from flags import FlagContext
from flags.audit import AuditLog
from flags.commands.rollout import flag_rollout
from flags.errors import FlagsError, UnknownFlag
from flags.store import FileFlagStore
from tests.flags.builders import feature, rollout_strategy

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def flags_env(monkeypatch, flags_config):
    monkeypatch.setenv("FLAGS_FILE", str(flags_config.flags_file))
    monkeypatch.setenv("FLAGS_AUDIT_LOG", str(flags_config.audit_path))
    monkeypatch.delenv("UNLEASH_URL", raising=False)


@pytest.fixture
def flags_cmd():
    def run(*args: str) -> str:
        out = io.StringIO()
        call_command("flags", *args, stdout=out)
        return out.getvalue()

    return run


@pytest.fixture
def flags_json(flags_cmd):
    return lambda *args: json.loads(flags_cmd(*args, "--json"))


@pytest.fixture
def store(flags_config) -> FileFlagStore:
    return FileFlagStore(flags_config)


@pytest.fixture
def audit(flags_config) -> AuditLog:
    return AuditLog(flags_config.audit_path)


def test_list_shows_every_bootstrap_flag_off(flags_json):
    listing = flags_json("list")

    names = [f["name"] for f in listing["flags"]]
    assert {"route.catalog.read", "route.auth.login", "route.orders.write", "route.payments.charge"} <= set(
        names
    )
    assert "monolith.catalog.read_from_service" in names
    assert {f["summary"] for f in listing["flags"]} == {"off"}


def test_list_renders_a_table_a_person_reads(flags_cmd):
    output = flags_cmd("list")

    assert "route.catalog.read" in output
    assert "off" in output


def test_show_prints_one_flag_in_the_unleash_format(flags_json):
    shown = flags_json("show", "route.catalog.read")

    assert shown["flag"]["name"] == "route.catalog.read"
    assert shown["flag"]["enabled"] is False
    assert shown["flag"]["strategies"][0]["name"] == "flexibleRollout"


def test_on_then_off_switches_the_flag_and_audits_each_change(flags_cmd, store, audit, make_flags):
    flags = make_flags()
    flags_cmd("on", "route.catalog.read", "--actor", "alice@ops")
    assert store.get_flag("route.catalog.read").enabled
    flags_cmd("off", "route.catalog.read", "--actor", "bob@ops")
    assert not store.get_flag("route.catalog.read").enabled

    entries = list(audit.entries())
    assert [(e["who"], e["action"], e["flag"]) for e in entries] == [
        ("alice@ops", "on", "route.catalog.read"),
        ("bob@ops", "off", "route.catalog.read"),
    ]
    assert entries[0]["before"]["enabled"] is False
    assert entries[0]["after"]["enabled"] is True
    # A facade re-reads the file every FLAGS_FILE_POLL_INTERVAL: it may have caught the flag on in between.
    deadline = time.monotonic() + 5
    while flags.is_enabled("route.catalog.read", FlagContext(user_id="1")) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not flags.is_enabled("route.catalog.read", FlagContext(user_id="1"))


def test_the_default_actor_is_the_user_at_the_host(flags_cmd, audit, monkeypatch):
    monkeypatch.setenv("USER", "carol")

    flags_cmd("on", "route.auth.login")

    assert next(audit.entries())["who"].startswith("carol@")


def test_switching_on_a_flag_that_is_on_changes_nothing_and_audits_nothing(flags_cmd, flags_json, audit):
    flags_cmd("on", "route.catalog.read")

    result = flags_json("on", "route.catalog.read")

    assert result["flags"][0]["changed"] is False
    assert len(list(audit.entries())) == 1


def test_rollout_sets_the_percentage_and_stickiness_and_switches_the_flag_on(flags_json, store, make_flags):
    result = flags_json("rollout", "route.catalog.read", "50", "--stickiness", "userId")

    flag = store.get_flag("route.catalog.read")
    assert result["flags"][0]["summary"] == "on: 50% by userId"
    assert flag.enabled
    assert flag.rollout == 50
    assert flag.strategies[0]["parameters"]["stickiness"] == "userId"
    flags = make_flags()
    enabled = sum(flags.is_enabled("route.catalog.read", FlagContext(user_id=str(u))) for u in range(1000))
    assert 400 <= enabled <= 600


def test_rollout_without_stickiness_keeps_the_flags_stickiness(flags_cmd, store):
    flags_cmd("rollout", "route.catalog.read", "50", "--stickiness", "sessionId")

    flags_cmd("rollout", "route.catalog.read", "20")

    assert store.get_flag("route.catalog.read").strategies[0]["parameters"] == {
        "rollout": "20",
        "stickiness": "sessionId",
        "groupId": "route.catalog.read",
    }


def test_rollout_replaces_a_default_strategy_and_keeps_an_allow_list(write_flags, flags_cmd, store):
    allow = {"name": "userWithId", "parameters": {"userIds": "alice"}, "constraints": []}
    write_flags(feature("route.orders.write", strategies=[allow, {"name": "default", "parameters": {}}]))

    flags_cmd("rollout", "route.orders.write", "10", "--stickiness", "userId")

    assert [s["name"] for s in store.get_flag("route.orders.write").strategies] == [
        "userWithId",
        "flexibleRollout",
    ]


def test_kill_switches_every_route_flag_off_in_one_audit_entry(flags_cmd, flags_json, store, audit):
    for name in ("route.catalog.read", "route.auth.login", "monolith.catalog.read_from_service"):
        flags_cmd("on", name)

    result = flags_json("kill", "--actor", "oncall@ops")

    bootstrap = json.loads((Path(__file__).parents[2] / "flags/bootstrap/features.json").read_text())[
        "features"
    ]
    route_flags = {f["name"] for f in bootstrap if f["name"].startswith("route.")}
    assert {f["name"]: f["after"]["enabled"] for f in result["flags"]} == dict.fromkeys(route_flags, False)
    assert store.get_flag("monolith.catalog.read_from_service").enabled
    kill = list(audit.entries())[-1]
    assert (kill["who"], kill["action"], kill["flag"]) == ("oncall@ops", "kill", "route.*")
    assert sorted(kill["after"]) == sorted(f["name"] for f in result["flags"])
    assert kill["before"]["route.catalog.read"]["enabled"] is True
    assert len(list(audit.entries())) == 4


def test_export_then_import_into_another_flags_file_gives_the_same_flags(flags_cmd, tmp_path, monkeypatch):
    flags_cmd("rollout", "route.catalog.read", "25", "--stickiness", "userId")
    exported = tmp_path / "export.json"
    flags_cmd("export", "--output", str(exported))

    monkeypatch.setenv("FLAGS_FILE", str(tmp_path / "other" / "flags.json"))
    flags_cmd("off", "route.catalog.read")
    flags_cmd("import", str(exported))

    assert json.loads(flags_cmd("export")) == json.loads(exported.read_text())


def test_import_adds_and_replaces_flags_and_leaves_the_others_alone(flags_json, store, tmp_path, audit):
    document = {
        "version": 2,
        "features": [
            feature("route.catalog.read", strategies=[rollout_strategy(30, "userId", "route.catalog.read")]),
            feature("route.search.query", enabled=False),
        ],
    }
    path = tmp_path / "import.json"
    path.write_text(json.dumps(document))

    result = flags_json("import", str(path))

    assert {f["name"]: f["changed"] for f in result["flags"]} == {
        "route.catalog.read": True,
        "route.search.query": True,
    }
    assert store.get_flag("route.catalog.read").rollout == 30
    assert not store.get_flag("route.search.query").enabled
    assert store.get_flag("route.auth.login") is not None
    assert [e["action"] for e in audit.entries()] == ["import", "import"]
    assert next(audit.entries())["before"]["enabled"] is False


BAD_DOCUMENTS = {
    "not json": "{features: []",
    "no features list": json.dumps({"version": 2}),
    "a name outside the convention": json.dumps({"features": [feature("catalog_read")]}),
    "an unknown strategy": json.dumps({"features": [feature("route.a", strategies=[{"name": "magic"}])]}),
    "a rollout over 100": json.dumps({"features": [feature("route.a", strategies=[rollout_strategy(101)])]}),
    "enabled that is not a boolean": json.dumps(
        {"features": [{"name": "route.a", "enabled": "yes", "strategies": []}]}
    ),
    "no strategies list": json.dumps({"features": [{"name": "route.a", "enabled": True}]}),
    "an unknown constraint operator": json.dumps(
        {
            "features": [
                feature(
                    "route.a",
                    strategies=[rollout_strategy(5, constraints=[{"contextName": "x", "operator": "LIKE"}])],
                )
            ]
        }
    ),
    "a duplicate flag": json.dumps({"features": [feature("route.a"), feature("route.a")]}),
}


@pytest.mark.parametrize("text", BAD_DOCUMENTS.values(), ids=BAD_DOCUMENTS.keys())
def test_import_of_an_invalid_features_file_writes_nothing(flags_cmd, flags_config, audit, tmp_path, text):
    flags_cmd("list")  # the flags file exists
    before = flags_config.flags_file.read_bytes()
    path = tmp_path / "bad.json"
    path.write_text(text)

    with pytest.raises(CommandError) as error:
        flags_cmd("import", str(path))

    assert str(path) in str(error.value)
    assert flags_config.flags_file.read_bytes() == before
    assert list(audit.entries()) == []


BAD_INPUT = {
    "show of an unknown flag": (["show", "route.nope"], "unknown flag 'route.nope'"),
    "on of an unknown flag": (["on", "route.nope"], "unknown flag 'route.nope'"),
    "off of an unknown flag": (["off", "route.nope"], "unknown flag 'route.nope'"),
    "rollout of an unknown flag": (["rollout", "route.nope", "5"], "unknown flag 'route.nope'"),
    "a percentage over 100": (["rollout", "route.catalog.read", "150"], "from 0 to 100, got '150'"),
    "a negative percentage": (["rollout", "route.catalog.read", "-5"], "from 0 to 100, got '-5'"),
    "a fractional percentage": (["rollout", "route.catalog.read", "12.5"], "from 0 to 100, got '12.5'"),
    "a percentage that is not a number": (["rollout", "route.catalog.read", "half"], "got 'half'"),
    "an unknown stickiness": (
        ["rollout", "route.catalog.read", "5", "--stickiness", "email"],
        "stickiness must be one of userId, sessionId, default",
    ),
    "an import of a missing file": (
        ["import", "/nonexistent/flags.json"],
        "cannot read /nonexistent/flags.json",
    ),
}


@pytest.mark.parametrize(("args", "message"), BAD_INPUT.values(), ids=BAD_INPUT.keys())
def test_bad_input_is_refused_with_one_clear_message_and_changes_nothing(flags_cmd, audit, args, message):
    with pytest.raises(CommandError) as error:
        flags_cmd(*args)

    assert message in str(error.value)
    assert "\n" not in str(error.value)
    assert list(audit.entries()) == []


def test_a_flags_file_that_is_unreadable_is_reported_by_name(flags_cmd, flags_config):
    flags_config.flags_file.parent.mkdir(parents=True, exist_ok=True)
    flags_config.flags_file.write_text('{"features": [')

    with pytest.raises(CommandError, match="not JSON") as error:
        flags_cmd("list")

    assert str(flags_config.flags_file) in str(error.value)


def test_audit_lists_the_latest_entries(flags_cmd, flags_json):
    for pct in ("10", "20", "30"):
        flags_cmd("rollout", "route.catalog.read", pct)

    listing = flags_json("audit", "--limit", "2")

    assert [e["action"] for e in listing["entries"]] == ["rollout 20%", "rollout 30%"]


def test_audit_verify_passes_on_an_intact_log_and_fails_naming_the_edited_line(flags_cmd, flags_json, audit):
    for name in ("route.catalog.read", "route.auth.login", "route.orders.write"):
        flags_cmd("on", name)
    assert flags_json("audit", "--verify") == {
        "ok": True,
        "entries": 3,
        "bad_line": None,
        "reason": "",
        "checkpoints": 3,
    }

    lines = audit.path.read_text().splitlines(keepends=True)
    lines[1] = lines[1].replace('"on"', '"off"')
    audit.path.write_text("".join(lines))

    with pytest.raises(CommandError, match="line 2: hash does not match its content"):
        flags_cmd("audit", "--verify")


def test_the_command_line_exits_non_zero_with_one_error_line_on_bad_input(flags_config):
    env = os.environ | {
        "FLAGS_FILE": str(flags_config.flags_file),
        "FLAGS_AUDIT_LOG": str(flags_config.audit_path),
    }
    env.pop("UNLEASH_URL", None)

    done = subprocess.run(
        [sys.executable, "-m", "flags", "rollout", "route.catalog.read", "150"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "flags rollout: invalid_features: rollout percentage must be a whole number from 0 to 100, got '150'"
    ]


def test_the_manage_py_command_exits_non_zero_on_an_unknown_flag(flags_config):
    env = os.environ | {
        "FLAGS_FILE": str(flags_config.flags_file),
        "FLAGS_AUDIT_LOG": str(flags_config.audit_path),
    }
    env.pop("UNLEASH_URL", None)

    done = subprocess.run(
        [sys.executable, "manage.py", "flags", "off", "route.nope"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "flags off: flag_not_found: unknown flag 'route.nope' (create it: `flags create route.nope`)"
    ]


def test_the_command_functions_return_results_the_caller_can_inspect(store, audit):
    result = flag_rollout(
        store, audit, name="route.auth.login", percentage=40, stickiness="userId", actor="t@h"
    )

    assert result.changes[0].after.rollout == 40
    assert result.audit_entries[0]["action"] == "rollout 40%"
    with pytest.raises(UnknownFlag):
        flag_rollout(store, audit, name="route.nope", percentage=40, actor="t@h")
    with pytest.raises(FlagsError):
        flag_rollout(store, audit, name="route.auth.login", percentage="101", actor="t@h")
