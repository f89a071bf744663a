"""FlagsConfig.from_env: one place reads the environment, with documented defaults."""

from pathlib import Path

import pytest

from flags.config import REPO_DIR, FlagsConfig, environment_of_token
from flags.errors import FlagsError


def test_without_any_variable_flags_live_in_the_flags_file_under_var():
    config = FlagsConfig.from_env({})

    assert config.flags_file == REPO_DIR / "var" / "flags.json"
    assert config.audit_path == REPO_DIR / "var" / "flags-audit.log"
    assert not config.uses_server
    assert config.refresh_interval == 1.0
    assert config.app_name == "strangler"


def test_the_variables_name_the_file_the_server_and_the_tokens():
    config = FlagsConfig.from_env(
        {
            "FLAGS_FILE": "/srv/flags.json",
            "FLAGS_AUDIT_LOG": "/srv/audit.log",
            "UNLEASH_URL": "http://unleash:4242/",
            "UNLEASH_CLIENT_TOKEN": "default:production.abc",
            "UNLEASH_ADMIN_TOKEN": "*:*.xyz",
            "UNLEASH_REFRESH_INTERVAL": "0.5",
            "UNLEASH_APP_NAME": "gateway",
        }
    )

    assert config.flags_file == Path("/srv/flags.json")
    assert config.audit_path == Path("/srv/audit.log")
    assert config.uses_server
    assert config.unleash_url == "http://unleash:4242"
    assert config.environment == "production"
    assert config.refresh_interval == 0.5
    assert config.app_name == "gateway"


def test_strangler_var_dir_moves_the_default_files():
    config = FlagsConfig.from_env({"STRANGLER_VAR_DIR": "/tmp/v"})

    assert config.flags_file == Path("/tmp/v/flags.json")
    assert config.audit_path == Path("/tmp/v/flags-audit.log")


@pytest.mark.parametrize("raw", ["soon", "0", "-1"])
def test_a_refresh_interval_that_is_not_a_positive_number_is_refused(raw):
    with pytest.raises(FlagsError, match="UNLEASH_REFRESH_INTERVAL"):
        FlagsConfig.from_env({"UNLEASH_REFRESH_INTERVAL": raw})


@pytest.mark.parametrize(
    ("token", "environment"),
    [
        ("default:development.secret", "development"),
        ("*:production.secret", "production"),
        ("*:*.secret", None),
        ("plain-secret", None),
    ],
)
def test_the_environment_comes_from_the_client_token(token, environment):
    assert environment_of_token(token) == environment


def test_a_server_without_a_client_token_is_refused_when_the_facade_starts():
    from flags import Flags

    with pytest.raises(FlagsError, match="UNLEASH_CLIENT_TOKEN"):
        Flags(FlagsConfig.from_env({"UNLEASH_URL": "http://127.0.0.1:9/api"}))


def test_the_api_url_is_the_unleash_url_with_api_at_the_end():
    assert FlagsConfig.from_env({"UNLEASH_URL": "http://u:4242"}).api_url == "http://u:4242/api"
    assert FlagsConfig.from_env({"UNLEASH_URL": "http://u:4242/api/"}).api_url == "http://u:4242/api"
