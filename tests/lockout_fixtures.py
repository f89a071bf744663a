"""Each test counts failed logins under its own keys (chassis.lockout), so usernames that repeat between
tests, runs or engineers sharing one Redis never inherit a lock. The keys expire by themselves (the
store sets their TTL to the end of the window or the lock).

The processes a test session starts (e2e: gunicorn monolith, Auth service) inherit the environment, so they
count under keys of this session: a seeded name a test fails to log in with ("nobody" in the gateway
transparency test) cannot reach the threshold over repeated runs and turn a 401 into a 423.
"""

import os
import uuid

import pytest

os.environ.setdefault("AUTH_LOCKOUT_KEY_PREFIX", f"strangler:lockout:test-session-{uuid.uuid4().hex}:")


@pytest.fixture(autouse=True)
def isolated_lockout(settings, tmp_path_factory):
    run = uuid.uuid4().hex
    settings.AUTH_LOCKOUT_KEY_PREFIX = f"strangler:lockout:test-{run}:"
    settings.AUTH_LOCKOUT_FILE = str(tmp_path_factory.getbasetemp() / f"lockout-{run}.sqlite3")
    return settings.AUTH_LOCKOUT_KEY_PREFIX
