"""The Flags facade over the flags file: Unleash's own engine decides, the file is re-read when it changes."""

import json
import threading
import time

import pytest

from flags import FlagContext, Flags
from flags.store import FileFlagStore
from tests.flags.builders import feature, rollout_strategy

USERS = [f"user-{i}" for i in range(1000)]


def wait_for(predicate, timeout: float) -> float:
    """Poll `predicate` every 5 ms; return the seconds it took to hold, or fail after `timeout`."""
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > timeout:
            pytest.fail(f"not true within {timeout} s")
        time.sleep(0.005)
    return time.monotonic() - start


def test_a_flag_that_is_on_is_enabled_and_one_that_is_off_is_not(write_flags, make_flags):
    write_flags(feature("route.catalog.read"), feature("route.auth.login", enabled=False))
    flags = make_flags()

    assert flags.is_enabled("route.catalog.read", FlagContext(user_id="1")) is True
    assert flags.is_enabled("route.auth.login", FlagContext(user_id="1")) is False


def test_an_unknown_flag_is_off(write_flags, make_flags):
    write_flags(feature("route.catalog.read"))

    assert make_flags().is_enabled("route.nowhere", FlagContext(user_id="1")) is False


def test_the_flags_file_is_created_from_the_bootstrap_with_every_flag_off(flags_config, make_flags):
    assert not flags_config.flags_file.exists()
    flags = make_flags()

    assert flags_config.flags_file.exists()
    assert "route.catalog.read" in flags.known_flags()
    assert not any(flags.is_enabled(name, FlagContext(user_id="1")) for name in flags.known_flags())


def test_a_half_rollout_enables_about_half_the_users_and_each_user_always_gets_the_same_answer(
    write_flags, make_flags
):
    write_flags(
        feature("route.catalog.read", strategies=[rollout_strategy(50, "userId", "route.catalog.read")])
    )
    flags = make_flags()

    first = {user: flags.is_enabled("route.catalog.read", FlagContext(user_id=user)) for user in USERS}
    assert 400 <= sum(first.values()) <= 600
    for _ in range(20):
        assert all(
            flags.is_enabled("route.catalog.read", FlagContext(user_id=u)) == first[u] for u in USERS[:100]
        )


def test_two_facades_agree_on_every_user_so_two_gateway_workers_route_alike(write_flags, make_flags):
    write_flags(
        feature("route.catalog.read", strategies=[rollout_strategy(30, "userId", "route.catalog.read")])
    )
    one, other = make_flags(), make_flags()

    assert [one.is_enabled("route.catalog.read", {"userId": u}) for u in USERS] == [
        other.is_enabled("route.catalog.read", {"userId": u}) for u in USERS
    ]


def test_default_stickiness_uses_the_user_then_the_session_then_the_client_address(write_flags, make_flags):
    write_flags(
        feature("route.catalog.read", strategies=[rollout_strategy(50, "default", "route.catalog.read")])
    )
    flags = make_flags()

    def answers(contexts) -> set[bool]:
        return {flags.is_enabled("route.catalog.read", context) for context in contexts}

    for i in range(40):
        assert len(answers(FlagContext(user_id=f"u{i}", session_id=f"s{i}-{n}") for n in range(30))) == 1
        assert len(answers(FlagContext(session_id=f"s{i}") for _ in range(30))) == 1
        assert len(answers(FlagContext(remote_address=f"10.0.0.{i}") for _ in range(30))) == 1
    by_address = [
        flags.is_enabled("route.catalog.read", FlagContext(remote_address=f"10.1.{i // 250}.{i % 250}"))
        for i in range(1000)
    ]
    assert 400 <= sum(by_address) <= 600


def test_the_client_address_stands_in_for_the_session_only_when_there_is_no_user_and_no_session():
    assert FlagContext(remote_address="10.0.0.1").to_unleash() == {
        "sessionId": "10.0.0.1",
        "remoteAddress": "10.0.0.1",
    }
    assert FlagContext(user_id="7", remote_address="10.0.0.1").to_unleash() == {
        "userId": "7",
        "remoteAddress": "10.0.0.1",
    }
    assert FlagContext(session_id="abc", remote_address="10.0.0.1").to_unleash()["sessionId"] == "abc"


def test_a_user_allow_list_enables_exactly_the_listed_users(write_flags, make_flags):
    allow = {"name": "userWithId", "parameters": {"userIds": "alice, bob"}, "constraints": []}
    write_flags(feature("route.auth.login", strategies=[allow]))
    flags = make_flags()

    assert flags.is_enabled("route.auth.login", FlagContext(user_id="alice"))
    assert flags.is_enabled("route.auth.login", FlagContext(user_id="bob"))
    assert not flags.is_enabled("route.auth.login", FlagContext(user_id="carol"))
    assert not flags.is_enabled("route.auth.login", FlagContext(remote_address="10.0.0.1"))


def test_a_constraint_on_a_property_limits_the_flag_to_matching_requests(write_flags, make_flags):
    only_beta = {"contextName": "tier", "operator": "IN", "values": ["beta"], "inverted": False}
    write_flags(feature("route.orders.write", strategies=[rollout_strategy(100, constraints=[only_beta])]))
    flags = make_flags()

    assert flags.is_enabled("route.orders.write", FlagContext(user_id="1", properties={"tier": "beta"}))
    assert not flags.is_enabled("route.orders.write", FlagContext(user_id="1", properties={"tier": "gold"}))
    assert not flags.is_enabled("route.orders.write", FlagContext(user_id="1"))
    assert flags.is_enabled("route.orders.write", {"user_id": "1", "tier": "beta"})


def test_a_plain_dict_context_in_either_spelling_means_the_same_as_a_flag_context(write_flags, make_flags):
    write_flags(
        feature("route.catalog.read", strategies=[rollout_strategy(50, "userId", "route.catalog.read")])
    )
    flags = make_flags()

    for user in USERS[:200]:
        expected = flags.is_enabled("route.catalog.read", FlagContext(user_id=user))
        assert flags.is_enabled("route.catalog.read", {"userId": user}) == expected
        assert flags.is_enabled("route.catalog.read", {"user_id": user}) == expected


def test_a_change_to_the_flags_file_is_visible_within_one_second(flags_config, make_flags):
    flags = make_flags()
    store = FileFlagStore(flags_config)
    context = FlagContext(user_id="42")
    latencies = []
    for enabled in (True, False, True, False, True):
        store.set_enabled("route.catalog.read", enabled)
        latencies.append(
            wait_for(lambda e=enabled: flags.is_enabled("route.catalog.read", context) == e, 2.0)
        )

    assert max(latencies) < 1.0, latencies


def test_the_flags_file_is_read_again_only_when_it_changed(flags_config, make_flags):
    flags = make_flags()
    reloads = flags.cache.reloads
    time.sleep(4 * flags_config.file_poll_interval)
    assert flags.cache.reloads == reloads

    FileFlagStore(flags_config).set_enabled("route.catalog.read", True)
    wait_for(lambda: flags.cache.reloads == reloads + 1, 2.0)


def test_a_broken_or_missing_flags_file_keeps_the_flags_the_facade_had(flags_config, write_flags, make_flags):
    write_flags(feature("route.catalog.read"))
    flags = make_flags()
    reloads = flags.cache.reloads

    flags_config.flags_file.write_text('{"version": 2, "features": [')  # a hand edit gone wrong
    wait_for(lambda: flags.cache.reloads > reloads, 2.0)
    time.sleep(2 * flags_config.file_poll_interval)
    assert flags.is_enabled("route.catalog.read", FlagContext(user_id="1"))

    flags_config.flags_file.unlink()
    time.sleep(3 * flags_config.file_poll_interval)
    assert flags.is_enabled("route.catalog.read", FlagContext(user_id="1"))


def test_readers_never_see_half_a_flags_file_while_it_is_rewritten(flags_config, write_flags):
    big = [feature(f"route.bulk.flag-{i}", description="x" * 500) for i in range(300)]
    write_flags(*big)
    stop = threading.Event()

    def rewrite() -> None:
        while not stop.is_set():
            write_flags(*big)

    writer = threading.Thread(target=rewrite)
    writer.start()
    try:
        for _ in range(300):
            assert len(json.loads(flags_config.flags_file.read_text())["features"]) == 300
    finally:
        stop.set()
        writer.join()


def test_a_facade_built_from_the_environment_reads_the_flags_file_it_names(
    tmp_path, monkeypatch, write_flags
):
    path = write_flags(feature("route.catalog.read"), path=tmp_path / "elsewhere" / "flags.json")
    monkeypatch.setenv("FLAGS_FILE", str(path))
    monkeypatch.delenv("UNLEASH_URL", raising=False)

    with Flags() as flags:
        assert flags.backend == "file"
        assert flags.is_enabled("route.catalog.read", FlagContext(user_id="1"))
