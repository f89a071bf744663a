"""`flags create` and `flags delete` against the flags file: a flag made from the CLI (no export/edit/
import), checked against the route table, audited, idempotent; delete only for a flag nobody uses."""

import io
import json
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from flags import FlagContext
from flags.audit import AuditLog

ROUTES = """\
upstreams:
  legacy: http://127.0.0.1:8000
  product: http://127.0.0.1:8101
routes:
  - id: catalog.detail
    methods: [GET, HEAD]
    path: ^/api/v1/catalog/products/[0-9]+$
    legacy: legacy
    target: product
    flag: route.catalog.detail
    mode: shadow
"""


@pytest.fixture(autouse=True)
def flags_env(monkeypatch, flags_config, tmp_path):
    routes = tmp_path / "routes.yaml"
    routes.write_text(ROUTES)
    monkeypatch.setenv("FLAGS_FILE", str(flags_config.flags_file))
    monkeypatch.setenv("FLAGS_AUDIT_LOG", str(flags_config.audit_path))
    monkeypatch.setenv("ROUTES_FILE", str(routes))
    monkeypatch.delenv("UNLEASH_URL", raising=False)
    return routes


def flags(*args: str):
    out = io.StringIO()
    call_command("flags", *args, "--json", stdout=out)
    return json.loads(out.getvalue())


@pytest.fixture
def audit(flags_config) -> AuditLog:
    return AuditLog(flags_config.audit_path)


def test_create_from_a_route_makes_an_off_flag_that_on_and_rollout_then_move(audit, make_flags):
    created = flags("create", "route.catalog.detail", "--from-route", "catalog.detail", "--actor", "ops")

    assert created["flags"][0]["before"] is None
    assert created["flags"][0]["summary"] == "off"
    shown = flags("show", "route.catalog.detail")
    assert shown["flag"]["description"].startswith("Gateway route catalog.detail: GET,HEAD ^/api/v1/catalog")
    assert "shadow" in shown["flag"]["description"]
    [entry] = audit.entries()
    assert (entry["action"], entry["who"], entry["flag"], entry["before"]) == (
        "create",
        "ops",
        "route.catalog.detail",
        None,
    )

    flags("rollout", "route.catalog.detail", "50")
    facade = make_flags()
    users = [FlagContext(user_id=str(n)) for n in range(400)]
    enabled = sum(facade.is_enabled("route.catalog.detail", user) for user in users)
    assert 120 < enabled < 280


def test_creating_a_flag_twice_changes_nothing_the_second_time(audit):
    flags("create", "monolith.catalog.new_switch", "--description", "a switch")
    again = flags("create", "monolith.catalog.new_switch", "--description", "something else")

    assert again["flags"][0]["changed"] is False
    assert len(list(audit.entries())) == 1
    assert flags("show", "monolith.catalog.new_switch")["flag"]["description"] == "a switch"


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["Route.Bad"], "invalid_features", "is not `route.<route id>`"),
        (["route.x", "--from-route", "nope"], "route_not_found", "no route 'nope' in"),
        (["route.other", "--from-route", "catalog.detail"], "route_flag_mismatch", "switched by flag"),
        (["route.x", "--type", "whatever"], "invalid_features", "flag type 'whatever'"),
    ],
)
def test_create_refuses_what_it_cannot_make_and_writes_nothing(args, code, message, audit, flags_config):
    with pytest.raises(CommandError, match=message) as caught:
        flags("create", *args)

    assert caught.value.__cause__.code == code
    assert list(audit.entries()) == []


def test_delete_removes_an_unused_flag_and_audits_it(audit):
    flags("create", "route.trial", "--description", "a trial")

    deleted = flags("delete", "route.trial", "--actor", "ops")

    assert deleted["flags"][0]["after"] is None
    assert deleted["flags"][0]["summary"] == "deleted"
    assert "route.trial" not in [f["name"] for f in flags("list")["flags"]]
    created, removed = list(audit.entries())
    assert (created["action"], created["after"]["enabled"]) == ("create", False)
    assert (removed["action"], removed["who"], removed["before"], removed["after"]) == (
        "delete",
        "ops",
        created["after"],
        None,
    )
    flags("create", "route.trial")  # the name can be used again


@pytest.mark.parametrize(
    ("setup", "name", "message"),
    [
        (["on", "route.trial"], "route.trial", "is on"),
        ([], "route.catalog.detail", "switches route catalog.detail"),
        ([], "route.catalog.read", "ships with the project"),
        ([], "route.never", "unknown flag 'route.never'"),
    ],
)
def test_delete_refuses_a_flag_in_use(setup, name, message, flags_config):
    flags("create", "route.trial")
    flags("create", "route.catalog.detail", "--from-route", "catalog.detail")
    if setup:
        flags(*setup)
    before = flags_config.flags_file.read_bytes()

    with pytest.raises(CommandError, match=message):
        flags("delete", name)

    assert flags_config.flags_file.read_bytes() == before


def test_the_gateway_names_flags_create_when_routes_yaml_has_a_flag_the_store_lacks(flags_env):
    from contracts.cli import UsageError

    with pytest.raises(UsageError) as caught:
        call_command("gateway", "--routes", str(flags_env), "--print-command")

    assert "flag 'route.catalog.detail' does not exist in the flags store" in caught.value.message
    assert "manage.py flags create route.catalog.detail --from-route catalog.detail" in caught.value.message


def test_an_unknown_flag_says_how_to_create_it():
    with pytest.raises(CommandError) as caught:
        flags("on", "route.catalog.detail")

    assert (
        str(caught.value)
        == "unknown flag 'route.catalog.detail' (create it: `flags create route.catalog.detail`)"
    )


def test_the_readme_shadow_example_works_from_a_fresh_flags_file(flags_env):
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert "flags create route.catalog.detail --from-route catalog.detail" in readme
