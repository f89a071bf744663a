"""Against a real Unleash 8 server: the commands change flags through its Admin API, and the facade (a
polling UnleashClient, refresh 1 s) sees each change within about a second."""

import io
import json
import subprocess
import time
import uuid

import pytest
from django.core.management import CommandError, call_command

from flags import FlagContext, FlagsConfig
from flags.audit import AuditLog
from flags.config import BOOTSTRAP_FILE
from flags.store import UnknownFlag, open_store
from tests.flags.builders import feature, rollout_strategy
from tests.flags.unleash_fixtures import INSTALL

pytestmark = pytest.mark.e2e

USERS = [f"user-{i}" for i in range(1000)]
# Seconds for a change to reach the facade: Unleash publishes a change to its client API on a 1 s tick
# (updateMaxRevisionId, fixed in the server), then the client polls every 1 s; measured max about 1.7 s.
VISIBLE_WITHIN = 2.5


@pytest.fixture
def server_config(unleash_server, tmp_path):
    return unleash_server.config(tmp_path)


@pytest.fixture(autouse=True)
def server_env(unleash_server, server_config, monkeypatch):
    """The management command reads the same server from the environment."""
    for name, value in unleash_server.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("FLAGS_AUDIT_LOG", str(server_config.audit_path))


@pytest.fixture
def flags_cmd():
    def run(*args: str) -> str:
        out = io.StringIO()
        call_command("flags", *args, stdout=out)
        return out.getvalue()

    return run


@pytest.fixture
def server_flag(flags_cmd, tmp_path) -> str:
    """A fresh route flag on the server, off, with a 100% rollout strategy (as in the bootstrap file)."""
    name = f"route.it.{uuid.uuid4().hex[:10]}"
    path = tmp_path / "one-flag.json"
    path.write_text(json.dumps({"version": 2, "features": [feature(name, enabled=False)]}))
    flags_cmd("import", str(path))
    return name


@pytest.fixture
def server_flags(server_config, make_flags):
    """A facade polling the server; it has the server's flags once this returns."""
    flags = make_flags(server_config)
    deadline = time.monotonic() + VISIBLE_WITHIN
    while not flags.known_flags() and time.monotonic() < deadline:
        time.sleep(0.05)
    return flags


def seconds_until(predicate, timeout: float = 10.0) -> float:
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > timeout:
            pytest.fail(f"not seen within {timeout} s")
        time.sleep(0.01)
    return time.monotonic() - start


def test_the_bootstrap_file_imports_into_the_server_with_every_flag_off(flags_cmd):
    flags_cmd("import", str(BOOTSTRAP_FILE))

    listing = json.loads(flags_cmd("list", "--json"))
    by_name = {f["name"]: f for f in listing["flags"]}
    assert {"route.catalog.read", "route.auth.login", "route.orders.write", "route.payments.charge"} <= set(
        by_name
    )
    assert all(not by_name[f["name"]]["enabled"] for f in json.loads(BOOTSTRAP_FILE.read_text())["features"])


def test_importing_the_same_file_again_changes_nothing(flags_cmd, server_config):
    flags_cmd("import", str(BOOTSTRAP_FILE))
    audited = len(list(AuditLog(server_config.audit_path).entries()))

    again = json.loads(flags_cmd("import", str(BOOTSTRAP_FILE), "--json"))

    assert not any(f["changed"] for f in again["flags"])
    assert len(list(AuditLog(server_config.audit_path).entries())) == audited


def test_on_and_off_through_the_admin_api_reach_the_facade_within_about_two_seconds(
    flags_cmd, server_flag, server_flags
):
    context = FlagContext(user_id="42")
    seconds_until(lambda: server_flag in server_flags.known_flags())
    assert not server_flags.is_enabled(server_flag, context)

    latencies = []
    for action, expected in (("on", True), ("off", False), ("on", True), ("off", False)):
        flags_cmd(action, server_flag)
        latencies.append(seconds_until(lambda e=expected: server_flags.is_enabled(server_flag, context) == e))

    assert max(latencies) < VISIBLE_WITHIN, latencies


def test_a_half_rollout_on_the_server_is_sticky_per_user_and_enables_about_half(
    flags_cmd, server_flag, server_flags, server_config, make_flags
):
    seconds_until(lambda: server_flag in server_flags.known_flags())

    flags_cmd("rollout", server_flag, "50", "--stickiness", "userId")
    latency = seconds_until(
        lambda: any(server_flags.is_enabled(server_flag, {"userId": u}) for u in USERS[:50])
    )

    first = {u: server_flags.is_enabled(server_flag, FlagContext(user_id=u)) for u in USERS}
    assert latency < VISIBLE_WITHIN
    assert 400 <= sum(first.values()) <= 600
    for _ in range(20):
        assert all(
            server_flags.is_enabled(server_flag, FlagContext(user_id=u)) == first[u] for u in USERS[:100]
        )
    other_worker = make_flags(server_config)
    seconds_until(lambda: server_flag in other_worker.known_flags())
    assert {u: other_worker.is_enabled(server_flag, FlagContext(user_id=u)) for u in USERS} == first


def test_off_after_a_rollout_brings_every_user_back_within_about_two_seconds(
    flags_cmd, server_flag, server_flags
):
    flags_cmd("rollout", server_flag, "50", "--stickiness", "userId")
    seconds_until(lambda: any(server_flags.is_enabled(server_flag, {"userId": u}) for u in USERS[:50]))

    flags_cmd("off", server_flag)
    latency = seconds_until(
        lambda: not any(server_flags.is_enabled(server_flag, {"userId": u}) for u in USERS)
    )

    assert latency < VISIBLE_WITHIN


def test_kill_on_the_server_switches_every_route_flag_off_in_one_audit_entry(
    flags_cmd, server_flag, server_flags, server_config
):
    flags_cmd("on", server_flag)
    seconds_until(lambda: server_flags.is_enabled(server_flag, {"userId": "1"}))

    result = json.loads(flags_cmd("kill", "--json", "--actor", "oncall@ops"))

    assert all(f["after"]["enabled"] is False for f in result["flags"])
    assert server_flag in {f["name"] for f in result["flags"]}
    assert seconds_until(lambda: not server_flags.is_enabled(server_flag, {"userId": "1"})) < VISIBLE_WITHIN
    entry = list(AuditLog(server_config.audit_path).entries())[-1]
    assert (entry["action"], entry["flag"], entry["who"]) == ("kill", "route.*", "oncall@ops")
    assert entry["before"][server_flag]["enabled"] is True


def test_a_user_allow_list_imported_into_the_server_enables_exactly_those_users(
    flags_cmd, server_flags, tmp_path
):
    name = f"route.it.{uuid.uuid4().hex[:10]}"
    allow = {"name": "userWithId", "parameters": {"userIds": "alice,bob"}, "constraints": []}
    path = tmp_path / "allow.json"
    path.write_text(json.dumps({"version": 2, "features": [feature(name, strategies=[allow])]}))

    flags_cmd("import", str(path))
    seconds_until(lambda: server_flags.is_enabled(name, {"userId": "alice"}))

    assert server_flags.is_enabled(name, {"userId": "bob"})
    assert not server_flags.is_enabled(name, {"userId": "carol"})


def test_a_constraint_set_on_the_server_is_evaluated_by_the_facade(flags_cmd, server_flags, tmp_path):
    name = f"route.it.{uuid.uuid4().hex[:10]}"
    only_beta = {"contextName": "tier", "operator": "IN", "values": ["beta"], "inverted": False}
    path = tmp_path / "constraint.json"
    path.write_text(
        json.dumps(
            {
                "version": 2,
                "features": [feature(name, strategies=[rollout_strategy(100, constraints=[only_beta])])],
            }
        )
    )

    flags_cmd("import", str(path))
    seconds_until(
        lambda: server_flags.is_enabled(name, FlagContext(user_id="1", properties={"tier": "beta"}))
    )

    assert not server_flags.is_enabled(name, FlagContext(user_id="1", properties={"tier": "gold"}))


def test_the_servers_flags_export_to_a_file_the_flags_file_backend_evaluates_alike(
    flags_cmd, server_flag, server_flags, tmp_path, make_flags
):
    flags_cmd("rollout", server_flag, "50", "--stickiness", "userId")
    seconds_until(lambda: any(server_flags.is_enabled(server_flag, {"userId": u}) for u in USERS[:50]))
    exported = tmp_path / "exported.json"
    flags_cmd("export", "--output", str(exported))

    file_flags = make_flags(FlagsConfig(flags_file=exported, audit_log=tmp_path / "file-audit.log"))

    assert [file_flags.is_enabled(server_flag, {"userId": u}) for u in USERS] == [
        server_flags.is_enabled(server_flag, {"userId": u}) for u in USERS
    ]


def test_bad_input_against_the_server_is_one_clear_error(flags_cmd):
    with pytest.raises(CommandError, match=r"unknown flag 'route\.it\.missing'"):
        flags_cmd("on", "route.it.missing")
    with pytest.raises(CommandError, match="from 0 to 100"):
        flags_cmd("rollout", "route.it.missing", "101")


def test_an_unreachable_server_is_one_clear_error(flags_cmd, monkeypatch):
    monkeypatch.setenv("UNLEASH_URL", "http://127.0.0.1:9/api")

    with pytest.raises(CommandError, match=r"cannot reach Unleash at http://127\.0\.0\.1:9/api"):
        flags_cmd("list")


def test_the_store_names_an_unknown_flag(server_config):
    with pytest.raises(UnknownFlag):
        open_store(server_config).get_flag("route.it.nowhere")


def test_the_install_script_does_nothing_once_the_server_is_installed(unleash_server):
    start = time.monotonic()
    done = subprocess.run(["bash", str(INSTALL)], capture_output=True, text=True, timeout=60, check=False)

    assert done.returncode == 0
    assert done.stdout == ""
    assert time.monotonic() - start < 5


def test_create_and_delete_through_the_admin_api(flags_cmd, server_config):
    name = f"route.it.{uuid.uuid4().hex[:10]}"

    flags_cmd("create", name, "--description", "made by flags create")
    state = open_store(server_config).get_flag(name)
    assert (state.enabled, state.rollout, state.description) == (False, 100, "made by flags create")
    assert "unchanged" in flags_cmd("create", name)

    flags_cmd("delete", name)
    with pytest.raises(UnknownFlag):
        open_store(server_config).get_flag(name)
    flags_cmd("create", name)  # deleted from the archive too: the name is free again
    assert open_store(server_config).get_flag(name).enabled is False
