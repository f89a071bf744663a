"""docker-compose.yml is for users (no Docker engine runs here): keep it consistent with the code."""

import ast
import importlib.util
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
README_VARS = set(re.findall(r"^\| `([A-Z][A-Z0-9_]+)` \|", (ROOT / "README.md").read_text(), re.MULTILINE))
CODE_PACKAGES = (
    "contracts",
    "kernel",
    "chassis",
    "legacy_monolith",
    "sandbox",
    "flags",
    "strangler_proxy",
    "extracted",
    "acl_adapters",
    "migrations_data",
    "shadow",
)
CODE = "\n".join(
    p.read_text() for pkg in CODE_PACKAGES if (ROOT / pkg).exists() for p in (ROOT / pkg).rglob("*.py")
)
# Functions that read one environment variable by name: `helper("NAME", ...)` or `helper(env, "NAME", ...)`.
ENV_HELPERS = ("env_bool", "env_int", "env_float", "_positive_float")


def _reads_env(var: str) -> bool:
    name = re.escape(f'"{var}"')
    helpers = "|".join(ENV_HELPERS)
    readers = (
        rf"(?:environ|env)(?:\.get\(|\[)\s*{name}",  # os.environ.get("X"), env["X"], self._env.get("X")
        rf"\b(?:{helpers})\(\s*(?:[\w.]+\s*,\s*)?{name}",  # env_int(env, "X", 5), env_bool("X", True)
        rf"\bdatabase_env\s*=\s*{name}",  # the chassis: service_settings(database_env="X")
        rf"{name}\s+(?:not\s+)?in\s+os\.environ",
    )
    return any(re.search(reader, CODE) for reader in readers)


@pytest.mark.parametrize("helper", ENV_HELPERS)
def test_every_env_reading_helper_the_check_trusts_reads_the_environment_by_that_name(helper):
    definitions = re.findall(rf"^def {helper}\(.*?\).*?:\n((?:    .*\n|\n)+)", CODE, re.MULTILINE)
    assert definitions, helper
    for body in definitions:
        assert re.search(r"\b(?:env|os\.environ)\.get\(name\b", body), (helper, body)


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
    unread = {var for var in README_VARS if not _reads_env(var) and f"${{{var}:" not in ROUTES}
    assert not unread


def test_the_env_check_knows_a_variable_nobody_reads_from_one_that_is_read():
    assert _reads_env("PRODUCT_DATABASE_URL")  # through the chassis' database_env=
    assert _reads_env("CONSUMER_MAX_ATTEMPTS")  # through env_int(env, ...)
    assert _reads_env("AUTH_KEY_ROTATION_OVERLAP_SECONDS")  # env_int( over two lines
    assert not _reads_env("NOBODY_READS_THIS_VARIABLE")
    assert not _reads_env("SERVICE_NAME")  # a settings key, not an environment variable


def test_the_monolith_and_the_sandbox_share_the_gateway_key_and_the_webhook_secret():
    monolith = SERVICES["monolith"]["environment"]
    sandbox = SERVICES["sandbox"]["environment"]
    assert monolith["PAYMENT_API_KEY"] == sandbox["SANDBOX_API_KEY"]
    assert monolith["PAYMENT_WEBHOOK_SECRET"] == sandbox["SANDBOX_WEBHOOK_SECRET"]
    assert monolith["PAYMENT_CARDINAL_URL"].startswith("http://sandbox:8900/")
    assert sandbox["SANDBOX_WEBHOOK_URL"].startswith("http://monolith:8000/api/v1/payments/webhooks/")


# Values that every process setting them must agree on (one token, one key, one broker, one issuer).
SHARED_VALUES = ("INTERNAL_API_TOKEN", "INTERNAL_IDENTITY_KEY", "BROKER_URL", "AUTH_ISSUER", "AUTH_AUDIENCE")


@pytest.mark.parametrize("var", SHARED_VALUES)
def test_processes_that_must_share_a_secret_or_endpoint_set_the_same_value(var):
    values = {name: s["environment"][var] for name, s in SERVICES.items() if var in s.get("environment", {})}
    assert len(values) >= 2, values
    assert len(set(values.values())) == 1, values


def test_the_gateway_the_monolith_and_the_services_are_wired_together():
    env = {
        name: SERVICES[name]["environment"]
        for name in ("monolith", "gateway", "product-service", "auth-service")
    }
    assert env["gateway"]["MONOLITH_URL"] == env["auth-service"]["MONOLITH_URL"] == "http://monolith:8000"
    for who in ("gateway", "monolith"):
        assert env[who]["INTERNAL_IDENTITY_KEY"] == env["monolith"]["INTERNAL_IDENTITY_KEY"]
        assert len(env[who]["INTERNAL_IDENTITY_KEY"]) >= 32
    assert env["monolith"]["INTERNAL_API_TOKEN"] == env["product-service"]["INTERNAL_API_TOKEN"]
    assert env["monolith"]["INTERNAL_API_TOKEN"] == env["auth-service"]["INTERNAL_API_TOKEN"]
    # the shadow pairs the gateway publishes reach the comparator worker: one broker
    assert env["gateway"]["BROKER_URL"] == SERVICES["shadow-worker"]["environment"]["BROKER_URL"]
    # the gateway and the monolith read one flags file
    assert env["gateway"]["FLAGS_FILE"] == env["monolith"]["FLAGS_FILE"]
    shared = env["gateway"]["FLAGS_FILE"].rsplit("/", 1)[0]
    for who in ("gateway", "monolith"):
        volumes = {v.split(":")[1]: v.split(":")[0] for v in SERVICES[who]["volumes"]}
        assert volumes[shared] in COMPOSE["volumes"], who


def _listening_port(service: dict) -> int | None:
    command = service.get("command", [])
    for flag in ("--bind", "-b", "--listen"):
        if flag in command:
            return int(command[command.index(flag) + 1].rsplit(":", 1)[1])
    return None


def test_every_service_url_points_at_a_compose_service_listening_on_that_port():
    checked = 0
    for name, service in SERVICES.items():
        for var, value in service.get("environment", {}).items():
            if var.endswith("_SERVICE_URL") or var == "MONOLITH_URL":
                url = urlsplit(value)
                assert url.hostname in SERVICES, (name, var, value)
                assert _listening_port(SERVICES[url.hostname]) == url.port, (name, var, value)
                checked += 1
    assert checked >= 5


def _init_databases() -> set[str]:
    postgres = SERVICES["postgres"]
    mounts = [v.split(":") for v in postgres["volumes"]]
    init_dirs = [ROOT / host for host, target, *_ in mounts if target == "/docker-entrypoint-initdb.d"]
    assert init_dirs, "no init scripts mounted on /docker-entrypoint-initdb.d"
    sql = "\n".join(p.read_text() for d in init_dirs for p in sorted(d.glob("*.sql")))
    return {
        postgres["environment"]["POSTGRES_DB"],
        *re.findall(r"^CREATE DATABASE (\w+);", sql, re.MULTILINE),
    }


def test_every_database_a_process_uses_is_created_by_the_postgres_service():
    databases = _init_databases()
    credentials = SERVICES["postgres"]["environment"]
    used = set()
    for name, service in SERVICES.items():
        for var, value in service.get("environment", {}).items():
            if var.endswith("DATABASE_URL") and value.startswith("postgres://"):
                url = urlsplit(value)
                assert url.hostname == "postgres", (name, var)
                assert (url.username, url.password) == (
                    credentials["POSTGRES_USER"],
                    credentials["POSTGRES_PASSWORD"],
                )
                assert url.path.lstrip("/") in databases, (name, var, value)
                used.add(url.path.lstrip("/"))
    assert {"techstore", "product", "auth", "shadow"} <= used


def test_each_extracted_service_has_its_own_database():
    product = SERVICES["product-service"]["environment"]["PRODUCT_DATABASE_URL"]
    auth = SERVICES["auth-service"]["environment"]["AUTH_DATABASE_URL"]
    monolith = SERVICES["monolith"]["environment"]["DATABASE_URL"]
    assert len({urlsplit(u).path for u in (product, auth, monolith)}) == 3


def _entry_module(command: list[str]) -> str:
    if command[:2] == ["python", "-m"]:
        return command[2]
    if command[0] == "gunicorn":
        return command[1]
    if command[:2] == ["python", "manage.py"]:
        return "manage"
    raise AssertionError(f"unknown entry point {command}")


OUR_COMMANDS = sorted(n for n, s in SERVICES.items() if "command" in s and "build" in s)


@pytest.mark.parametrize("name", OUR_COMMANDS)
def test_every_command_of_our_image_names_a_module_that_exists(name):
    module = _entry_module(SERVICES[name]["command"])
    assert module == "manage" or importlib.util.find_spec(module) is not None


@pytest.mark.parametrize(
    "name", [n for n in OUR_COMMANDS if SERVICES[n]["command"][:2] == ["python", "manage.py"]]
)
def test_every_manage_py_command_in_compose_parses_with_the_real_command(name):
    from django.core.management import get_commands, load_command_class

    command, *args = SERVICES[name]["command"][2:]
    app = get_commands()[command]
    load_command_class(app, command).create_parser("manage.py", command).parse_args(args)


def _consumer_names(service_package: str) -> set[str]:
    """The `name` of every consumer class the service's settings register (what `consume <name>` takes)."""
    folder = ROOT / service_package.replace(".", "/")
    registered = set(
        re.findall(rf'"{re.escape(service_package)}\.consumers\.(\w+)"', (folder / "settings.py").read_text())
    )
    names = set()
    for node in ast.parse((folder / "consumers.py").read_text()).body:
        if isinstance(node, ast.ClassDef) and node.name in registered:
            for item in node.body:
                if isinstance(item, ast.Assign) and [getattr(t, "id", None) for t in item.targets] == [
                    "name"
                ]:
                    names.add(item.value.value)
    assert len(names) == len(registered) > 0, (service_package, registered, names)
    return names


@pytest.mark.parametrize(
    "name", [n for n in OUR_COMMANDS if _entry_module(SERVICES[n]["command"]).startswith("extracted.")]
)
def test_every_extracted_service_command_in_compose_exists(name):
    _, _, package, command, *args = SERVICES[name]["command"]
    places = (f"{package}.management.commands.{command}", f"chassis.management.commands.{command}")
    assert any(importlib.util.find_spec(p) for p in places) or command in ("migrate",), command
    if command == "consume":
        assert args[0] in _consumer_names(package), args
    if command == "serve":
        default_port = re.search(
            r"default_port=(\d+)", (ROOT / package.replace(".", "/") / "settings.py").read_text()
        )
        assert _listening_port(SERVICES[name]) == int(default_port.group(1))


def test_every_product_service_consumer_runs_in_compose():
    consumed = {s["command"][4] for s in SERVICES.values() if s.get("command", [])[3:4] == ["consume"]}
    assert _consumer_names("extracted.product_service") <= consumed


def test_the_gateway_command_parses_with_the_runners_own_parser():
    from strangler_proxy.server.config import parse_config

    gateway = SERVICES["gateway"]
    config = parse_config(gateway["command"][3:], env=gateway["environment"])
    assert (config.host, config.port) == ("0.0.0.0", 8080)
    assert config.upstream == gateway["environment"]["MONOLITH_URL"]


def test_services_start_only_after_what_they_depend_on_is_healthy():
    for name, service in SERVICES.items():
        for dependency, rule in service.get("depends_on", {}).items():
            assert dependency in SERVICES, (name, dependency)
            if rule["condition"] == "service_healthy":
                assert "healthcheck" in SERVICES[dependency], (name, dependency)
            if rule["condition"] == "service_completed_successfully":
                assert "migrate" in SERVICES[dependency]["command"], (name, dependency)
