from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from chassis.settings import DEV_INTERNAL_API_TOKEN, service_settings
from kernel.crypto import new_encryption_key


def make(env: dict[str, str], **kwargs):
    return service_settings(
        "demo_service",
        database_env="DEMO_DATABASE_URL",
        root_urlconf="demo.urls",
        default_port=8199,
        env=env,
        **kwargs,
    )


def test_the_embedded_profile_keeps_sqlite_and_a_filesystem_broker_under_the_var_dir(tmp_path):
    settings = make({"STRANGLER_VAR_DIR": str(tmp_path)})
    assert settings["DATABASES"]["default"]["NAME"] == str(tmp_path / "demo_service.sqlite3")
    assert settings["BROKER_URL"] == "filesystem://"
    assert settings["BROKER_CONFIGURED"] is False
    assert Path(settings["BROKER_TRANSPORT_OPTIONS"]["data_folder_in"]).is_dir()
    assert settings["CACHES"]["default"]["BACKEND"].endswith("LocMemCache")


def test_the_services_profile_reads_the_service_database_redis_and_amqp(tmp_path):
    settings = make(
        {
            "STRANGLER_VAR_DIR": str(tmp_path),
            "DEMO_DATABASE_URL": "postgres://postgres@127.0.0.1:5432/demo",
            "REDIS_URL": "redis://127.0.0.1:6379/3",
            "BROKER_URL": "amqp://guest:guest@127.0.0.1:5672//",
        }
    )
    database = settings["DATABASES"]["default"]
    assert (database["NAME"], database["OPTIONS"]["connect_timeout"]) == ("demo", 3)
    assert settings["CACHES"]["default"]["LOCATION"] == "redis://127.0.0.1:6379/3"
    assert settings["CACHES"]["default"]["KEY_PREFIX"] == "demo_service"
    assert settings["BROKER_TRANSPORT_OPTIONS"] == {"confirm_publish": True}
    assert not list(tmp_path.iterdir())  # nothing of the embedded profile was created


@pytest.mark.parametrize(
    ("env", "refused"),
    [
        ({}, "SECRET_KEY, INTERNAL_API_TOKEN"),
        ({"SECRET_KEY": "s3cret"}, "INTERNAL_API_TOKEN"),
        ({"INTERNAL_API_TOKEN": "t0ken"}, "SECRET_KEY"),
    ],
)
def test_production_refuses_development_secrets(tmp_path, env, refused):
    with pytest.raises(ImproperlyConfigured, match=f"but {refused} still hold"):
        make({"STRANGLER_VAR_DIR": str(tmp_path), "DEBUG": "false", **env})


def test_production_starts_with_real_secrets(tmp_path):
    settings = make(
        {
            "STRANGLER_VAR_DIR": str(tmp_path),
            "DEBUG": "0",
            "SECRET_KEY": "s3cret",
            "INTERNAL_API_TOKEN": "t0ken",
        }
    )
    assert (settings["DEBUG"], settings["INTERNAL_API_TOKEN"]) == (False, "t0ken")


def test_development_falls_back_to_the_marked_dev_token(tmp_path):
    assert make({"STRANGLER_VAR_DIR": str(tmp_path)})["INTERNAL_API_TOKEN"] == DEV_INTERNAL_API_TOKEN


def test_django_auth_is_installed_only_when_asked(tmp_path):
    without = make({"STRANGLER_VAR_DIR": str(tmp_path)})
    with_auth = make({"STRANGLER_VAR_DIR": str(tmp_path)}, with_auth=True, apps=["demo"])
    assert "django.contrib.auth" not in without["INSTALLED_APPS"]
    assert without["REST_FRAMEWORK"]["UNAUTHENTICATED_USER"] is None
    assert with_auth["INSTALLED_APPS"][-1] == "demo"
    assert "django.contrib.auth" in with_auth["INSTALLED_APPS"]


def test_enforced_event_signatures_in_production_refuse_the_development_key_encryption_key(tmp_path):
    production = {"STRANGLER_VAR_DIR": str(tmp_path), "DEBUG": "false"}
    production.update(SECRET_KEY="s3cret", INTERNAL_API_TOKEN="t0ken")
    with pytest.raises(
        ImproperlyConfigured, match="EVENT_KEY_ENCRYPTION_KEY still holds the development default"
    ):
        make({**production, "EVENT_SIGNATURES": "enforce"})
    key = new_encryption_key()
    settings = make({**production, "EVENT_SIGNATURES": "enforce", "EVENT_KEY_ENCRYPTION_KEY": key})
    assert (settings["EVENT_SIGNATURES"], settings["EVENT_KEY_ENCRYPTION_KEY"]) == ("enforce", key)


@pytest.mark.parametrize(
    ("env", "problem"),
    [
        ({"EVENT_SIGNATURES": "maybe"}, "EVENT_SIGNATURES must be one of enforce, off"),
        (
            {"EVENT_KEY_ENCRYPTION_KEY": "c2hvcnQ"},
            "EVENT_KEY_ENCRYPTION_KEY: the key encryption key must be 32",
        ),
        ({"EVENT_KEYS_URLS": "payment_service"}, "EVENT_KEYS_URLS: 'payment_service' is not source=http"),
        ({"EVENT_KEYS_URLS": "payment_service=ftp://x"}, "is not source=http"),
    ],
)
def test_bad_event_signing_settings_are_refused_at_start(tmp_path, env, problem):
    with pytest.raises(ImproperlyConfigured, match=problem):
        make({"STRANGLER_VAR_DIR": str(tmp_path), **env})


def test_event_keys_urls_follow_each_source_address_unless_named(tmp_path):
    settings = make(
        {
            "STRANGLER_VAR_DIR": str(tmp_path),
            "PAYMENT_SERVICE_PORT": "9104",
            "EVENT_KEYS_URLS": "order_service=https://orders.internal/.well-known/event-keys.json",
        }
    )
    urls = settings["EVENT_KEYS_URLS"]
    assert urls["payment_service"] == "http://127.0.0.1:9104/.well-known/event-keys.json"
    assert urls["order_service"] == "https://orders.internal/.well-known/event-keys.json"
    assert urls["monolith"] == "http://127.0.0.1:8000/.well-known/event-keys.json"
    assert settings["EVENT_SIGNATURES"] == "off"
