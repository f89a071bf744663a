"""The feature format: the bootstrap file, flag names, and what `rollout` does to strategies."""

import pytest

from flags.errors import InvalidFeatures
from flags.features import FlagState, check_flag_name, parse_percentage, validate_features, with_rollout
from tests.flags.builders import rollout_strategy


def test_the_bootstrap_file_is_valid_and_every_flag_in_it_is_off(bootstrap_document):
    validate_features(bootstrap_document)

    assert bootstrap_document["features"]
    assert not any(f["enabled"] for f in bootstrap_document["features"])


def test_the_bootstrap_file_has_the_migrations_route_flags_and_monolith_switches(bootstrap_document):
    names = {f["name"] for f in bootstrap_document["features"]}

    assert {"route.catalog.read", "route.auth.login", "route.orders.write", "route.payments.charge"} <= names
    assert "monolith.catalog.read_from_service" in names


@pytest.mark.parametrize(
    "name", ["route.catalog.read", "route.v2.orders-write", "monolith.catalog.read_from_service"]
)
def test_route_and_monolith_names_are_accepted(name):
    assert check_flag_name(name) == name


@pytest.mark.parametrize(
    "name", ["catalog.read", "route.", "route.Catalog", "monolith.catalog", "route.a b", "", "route..a"]
)
def test_names_outside_the_convention_are_refused(name):
    with pytest.raises(InvalidFeatures, match=r"is not `route\.<route id>`"):
        check_flag_name(name)


@pytest.mark.parametrize("raw", ["0", "100", 50, " 7 "])
def test_whole_percentages_from_0_to_100_are_accepted(raw):
    assert parse_percentage(raw) == int(str(raw).strip())


def test_rollout_updates_the_first_flexible_rollout_and_keeps_its_constraints():
    only_beta = {"contextName": "tier", "operator": "IN", "values": ["beta"]}
    strategies = [rollout_strategy(100, "default", "g", [only_beta])]

    (result,) = with_rollout(strategies, 25, None, "route.a")

    assert result["parameters"] == {"rollout": "25", "stickiness": "default", "groupId": "g"}
    assert result["constraints"] == [only_beta]
    assert strategies[0]["parameters"]["rollout"] == "100"  # the input is not changed


def test_a_flag_summary_says_who_gets_it():
    allow = {"name": "userWithId", "parameters": {"userIds": "alice"}, "constraints": []}
    state = FlagState.from_feature(
        {"name": "route.a", "enabled": True, "strategies": [rollout_strategy(50, "userId"), allow]}
    )

    assert state.summary() == "on: 50% by userId; users alice"
    assert FlagState.from_feature({"name": "route.a", "enabled": False, "strategies": []}).summary() == "off"
