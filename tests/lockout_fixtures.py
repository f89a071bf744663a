"""Each test counts failed logins under its own keys (chassis.lockout), so usernames that repeat between
tests, runs or engineers sharing one Redis never inherit a lock. The keys expire by themselves (the
store sets their TTL to the end of the window or the lock)."""

import uuid

import pytest


@pytest.fixture(autouse=True)
def isolated_lockout(settings, tmp_path_factory):
    run = uuid.uuid4().hex
    settings.AUTH_LOCKOUT_KEY_PREFIX = f"strangler:lockout:test-{run}:"
    settings.AUTH_LOCKOUT_FILE = str(tmp_path_factory.getbasetemp() / f"lockout-{run}.sqlite3")
    return settings.AUTH_LOCKOUT_KEY_PREFIX
