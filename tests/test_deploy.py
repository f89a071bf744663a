"""docker-compose.yml is for users (no Docker engine runs here): keep it consistent with the code."""

import importlib.util
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
README_VARS = set(re.findall(r"^\| `([A-Z][A-Z0-9_]+)` \|", (ROOT / "README.md").read_text(), re.MULTILINE))
CODE = "\n".join(
    p.read_text()
    for pkg in ("legacy_monolith", "sandbox", "flags", "strangler_proxy")
    for p in (ROOT / pkg).rglob("*.py")
    if (ROOT / pkg).exists()
)


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_every_service_is_built_here_or_uses_a_pinned_image(name):
    service = SERVICES[name]
    if "build" in service:
        assert (ROOT / service["build"] / "Dockerfile").is_file()
    else:
        image = service["image"]
        assert ":" in image, image
        assert not image.endswith(":latest"), image


@pytest.mark.parametrize("name", sorted(n for n, s in SERVICES.items() if "build" in s))
def test_every_variable_the_compose_file_sets_on_our_processes_is_documented(name):
    undocumented = set(SERVICES[name].get("environment", {})) - README_VARS
    assert not undocumented


ROUTES = (ROOT / "strangler_proxy" / "routes.yaml").read_text()


def test_every_documented_variable_is_read_by_the_code():
    unread = {var for var in README_VARS if f'"{var}"' not in CODE and f"${{{var}:" not in ROUTES}
    assert not unread


def test_the_monolith_and_the_sandbox_share_the_gateway_key_and_the_webhook_secret():
    monolith = SERVICES["monolith"]["environment"]
    sandbox = SERVICES["sandbox"]["environment"]
    assert monolith["PAYMENT_API_KEY"] == sandbox["SANDBOX_API_KEY"]
    assert monolith["PAYMENT_WEBHOOK_SECRET"] == sandbox["SANDBOX_WEBHOOK_SECRET"]
    assert monolith["PAYMENT_CARDINAL_URL"].startswith("http://sandbox:8900/")
    assert sandbox["SANDBOX_WEBHOOK_URL"].startswith("http://monolith:8000/api/v1/payments/webhooks/")


def _entry_module(command: list[str]) -> str:
    if command[:2] == ["python", "-m"]:
        return command[2]
    if command[0] == "gunicorn":
        return command[1]
    if command[:2] == ["python", "manage.py"]:
        return "manage"
    raise AssertionError(f"unknown entry point {command}")


@pytest.mark.parametrize("name", sorted(n for n, s in SERVICES.items() if "command" in s and "build" in s))
def test_every_command_of_our_image_names_a_module_that_exists(name):
    module = _entry_module(SERVICES[name]["command"])
    assert module == "manage" or importlib.util.find_spec(module) is not None


def test_services_start_only_after_what_they_depend_on_is_healthy():
    for name, service in SERVICES.items():
        for dependency, rule in service.get("depends_on", {}).items():
            if rule["condition"] == "service_healthy":
                assert "healthcheck" in SERVICES[dependency], (name, dependency)
