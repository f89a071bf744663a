"""The registry of processes (deploy/topology.py) against the code: every command parses with the real parser,
every consumer exists, ports and environment variables match what the code serves and reads. No Docker
engine or cluster runs here, so this is how the compose file and the manifests stay true."""

import ast
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from deploy import backup, common
from deploy import topology as t
from deploy.secrets import new_value

ROOT = Path(__file__).resolve().parents[2]
PLACED = {p.name: p for p in t.all_processes()}
OURS = {p.name: p for p in t.our_processes()}
README_VARS = set(re.findall(r"^\| `([A-Z][A-Z0-9_]+)` \|", (ROOT / "README.md").read_text(), re.MULTILINE))
CODE_PACKAGES = (
    "contracts", "kernel", "chassis", "legacy_monolith", "sandbox", "flags", "strangler_proxy", "extracted",
    "acl_adapters", "migrations_data", "shadow", "control", "deploy", "load",
)  # fmt: skip
CODE = "\n".join(
    p.read_text() for pkg in CODE_PACKAGES if (ROOT / pkg).exists() for p in (ROOT / pkg).rglob("*.py")
)
ROUTES = (ROOT / "strangler_proxy" / "routes.yaml").read_text()
# Functions that read one environment variable by name: `helper("NAME", ...)` or `helper(env, "NAME", ...)`.
ENV_HELPERS = ("env_bool", "env_int", "env_float", "_positive_float")


def reads_env(var: str) -> bool:
    name = re.escape(f'"{var}"')
    helpers = "|".join(ENV_HELPERS)
    readers = (
        rf"(?:environ|env)(?:\.get\(|\[)\s*{name}",  # os.environ.get("X"), env["X"], self._env.get("X")
        rf"\b(?:{helpers})\(\s*(?:[\w.]+\s*,\s*)?{name}",  # env_int(env, "X", 5), env_bool("X", True)
        rf"\bdatabase_env\s*=\s*{name}",  # the chassis: service_settings(database_env="X")
        rf"{name}\s+(?:not\s+)?in\s+os\.environ",
    )
    if any(re.search(reader, CODE) for reader in readers) or f"${{{var}:" in ROUTES:
        return True
    # a module constant naming the variable, read through it: KEY_ENV = "X" ... environ.get(KEY_ENV)
    for constant in re.findall(rf"^(\w+)\s*=\s*{name}\s*$", CODE, re.MULTILINE):
        if re.search(rf"(?:environ|env)(?:\.get\(|\[)\s*{constant}\b", CODE):
            return True
    return False


# ------------------------------------------------------------------------------------------- env


@pytest.mark.parametrize("helper", ENV_HELPERS)
def test_every_env_reading_helper_the_check_trusts_reads_the_environment_by_that_name(helper):
    definitions = re.findall(rf"^def {helper}\(.*?\).*?:\n((?:    .*\n|\n)+)", CODE, re.MULTILINE)
    assert definitions, helper
    for body in definitions:
        assert re.search(r"\b(?:env|os\.environ)\.get\(name\b", body), (helper, body)


def test_the_env_check_knows_a_variable_nobody_reads_from_one_that_is_read():
    assert reads_env("PRODUCT_DATABASE_URL")  # through the chassis' database_env=
    assert reads_env("CONSUMER_MAX_ATTEMPTS")  # through env_int(env, ...)
    assert reads_env("AUTH_KEY_ROTATION_OVERLAP_SECONDS")  # env_int( over two lines
    assert not reads_env("NOBODY_READS_THIS_VARIABLE")
    assert not reads_env("SERVICE_NAME")  # a settings key, not an environment variable
    assert reads_env("TESTER_OVERRIDE_KEY")  # KEY_ENV = "TESTER_OVERRIDE_KEY"; os.environ.get(KEY_ENV)


@pytest.mark.parametrize("name", sorted(OURS))
def test_every_variable_a_process_of_ours_gets_is_read_by_the_code_and_documented(name):
    env = set(OURS[name].env) - {"BOOTSTRAP_SEED"} - t.SECRET_NAMES
    env = {v for v in env if not backup.ENV_PATTERN.match(v)}  # read by pattern: next test
    unread = {v for v in env if not reads_env(v)}
    assert not unread, f"set but read by nothing: {sorted(unread)}"
    undocumented = env - README_VARS
    assert not undocumented, f"not in the README's configuration table: {sorted(undocumented)}"


def test_the_backup_job_backs_up_every_database_and_the_broker():
    found = backup.sources(OURS["backup"].env)
    assert set(found) == {db.name for db in t.DATABASES} | {"rabbitmq"}
    assert set(OURS["backup"].env) == {f"BACKUP_{name.upper()}_URL" for name in found}


def test_every_documented_variable_is_read_by_the_code():
    assert not {var for var in README_VARS if not reads_env(var)}


@pytest.mark.parametrize("name", sorted(PLACED))
def test_every_secret_a_process_names_is_declared_once(name):
    assert set(t.secrets_used(PLACED[name].env)) <= t.SECRET_NAMES


def test_every_declared_secret_is_used_and_generated():
    used = {s for p in PLACED.values() for s in t.secrets_used(p.env)}
    assert used == t.SECRET_NAMES
    for secret in t.SECRETS:
        assert len(new_value(secret)) >= 24, secret.name


# Values that every process setting them must agree on: one secret, one broker, one issuer.
@pytest.mark.parametrize("var", ["INTERNAL_API_TOKEN", "INTERNAL_IDENTITY_KEY", "BROKER_URL", "AUTH_ISSUER"])
def test_processes_that_must_share_a_secret_or_endpoint_set_the_same_value(var):
    values = {name: p.env[var] for name, p in OURS.items() if var in p.env}
    assert len(values) >= 2, values
    assert len(set(values.values())) == 1, values


def test_the_sandbox_and_the_monolith_share_the_card_gateway_key_and_webhook_secret():
    monolith, sandbox = OURS["monolith"].env, OURS["sandbox"].env
    assert monolith["PAYMENT_API_KEY"] == sandbox["SANDBOX_API_KEY"] == "${PAYMENT_API_KEY}"
    assert monolith["PAYMENT_WEBHOOK_SECRET"] == sandbox["SANDBOX_WEBHOOK_SECRET"]
    assert monolith["PAYMENT_CARDINAL_URL"].startswith("http://sandbox:8900/")


def _render(env, secrets):
    return {k: t.SECRET_REF.sub(lambda m: secrets[m.group(1)], v) for k, v in env.items()}


SETTINGS = {"monolith": "legacy_monolith.settings"} | {
    c.name: f"extracted.{c.name}_service.settings"
    for c in t.COMPONENTS
    if c.database and c.name != "monolith"
}


@pytest.mark.parametrize("component", sorted(SETTINGS))
def test_settings_start_with_debug_off_on_the_generated_secrets_and_refuse_a_dev_default(component, tmp_path):
    """The compose/Kubernetes environment is production: DEBUG=false with real secrets loads the settings,
    and the same environment with one development default is refused."""
    process = next(p for p in OURS.values() if p.component == component and p.process.kind == "http")
    secrets = {s.name: new_value(s) for s in t.SECRETS}
    env = {
        "PATH": os.environ["PATH"],
        "STRANGLER_VAR_DIR": str(tmp_path),
        **_render(process.env, secrets),
    }
    code = f"import importlib; importlib.import_module({SETTINGS[component]!r})"
    ok = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr[-2000:]
    dev = {**env, "SECRET_KEY": "dev-only-insecure-secret-key-change-me"}
    if component != "monolith":
        dev["SECRET_KEY"] = f"dev-only-insecure-{component}_service-secret-key"
    refused = subprocess.run([sys.executable, "-c", code], env=dev, cwd=ROOT, capture_output=True, text=True)
    assert refused.returncode != 0
    assert "SECRET_KEY" in refused.stderr


# ------------------------------------------------------------------------------------------- commands


def _entry_module(command) -> str:
    if command[:2] == ("python", "-m"):
        return command[2]
    if command[0] == "gunicorn":
        return command[1]
    if command[:2] == ("python", "manage.py"):
        return "manage"
    raise AssertionError(f"unknown entry point {command}")


@pytest.mark.parametrize("name", sorted(OURS))
def test_every_command_names_a_module_that_exists(name):
    module = _entry_module(OURS[name].process.command)
    assert module == "manage" or importlib.util.find_spec(module) is not None


MANAGE = sorted(n for n, p in OURS.items() if p.process.command[:2] == ("python", "manage.py"))
MANAGE += [
    f"{c.name}:migrate{i}" for c in t.COMPONENTS for i, m in enumerate(c.migrate) if m[1] == "manage.py"
]


def _command_of(name):
    if ":migrate" in name:
        component, index = name.split(":migrate")
        return next(c for c in t.COMPONENTS if c.name == component).migrate[int(index)]
    return OURS[name].process.command


@pytest.mark.parametrize("name", MANAGE)
def test_every_manage_py_command_parses_with_the_real_command(name):
    from django.core.management import get_commands, load_command_class

    command, *args = _command_of(name)[2:]
    app = get_commands()[command]
    load_command_class(app, command).create_parser("manage.py", command).parse_args(args)


def _string_value(node: ast.expr, path: Path) -> str:
    """A string literal, or a module constant naming one (assigned in `path` or imported into it)."""
    if isinstance(node, ast.Constant):
        return node.value
    assert isinstance(node, ast.Name), ast.dump(node)
    tree = ast.parse(path.read_text())
    for item in tree.body:
        if isinstance(item, ast.Assign) and [getattr(t, "id", None) for t in item.targets] == [node.id]:
            return _string_value(item.value, path)
        if isinstance(item, ast.ImportFrom) and item.level and node.id in {a.name for a in item.names}:
            base = path.parents[item.level - 1]
            return _string_value(node, base / (item.module.replace(".", "/") + ".py"))
    raise AssertionError(f"{node.id} is not a constant of {path}")


def consumer_names(package: str) -> set[str]:
    """The `name` of every consumer class the service's settings register (what `consume <name>` takes)."""
    folder = ROOT / package.replace(".", "/")
    pattern = rf'"{re.escape(package)}\.([\w.]+)\.(\w+)"'
    registered = re.findall(pattern, (folder / "settings.py").read_text())
    registered = [(module, cls) for module, cls in registered if "consumers" in module]
    names = set()
    for module, cls in registered:
        path = folder / (module.replace(".", "/") + ".py")
        tree = ast.parse(path.read_text())
        for node in tree.body:
            if isinstance(node, ast.ClassDef) and node.name == cls:
                for item in node.body:
                    targets = [getattr(t, "id", None) for t in getattr(item, "targets", [])]
                    if isinstance(item, ast.Assign) and targets == ["name"]:
                        names.add(_string_value(item.value, path))
    assert len(names) == len(registered), (package, registered, names)
    return names


def module_exists(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False


def _listening_ports(process: t.Process) -> set[int]:
    command = process.command
    ports = {
        int(command[i + 1].rsplit(":", 1)[1])
        for i, a in enumerate(command)
        if a in ("--bind", "-b", "--listen")
    }
    return ports


EXTRACTED = sorted(n for n, p in OURS.items() if _entry_module(p.process.command).startswith("extracted."))


@pytest.mark.parametrize("name", EXTRACTED)
def test_every_extracted_service_command_exists(name):
    _, _, package, command, *args = OURS[name].process.command
    places = (f"{package}.management.commands.{command}", f"chassis.management.commands.{command}")
    assert any(module_exists(p) for p in places) or command == "migrate", command
    if command == "consume":
        assert args[0] in consumer_names(package), args
    if command == "serve":
        settings = (ROOT / package.replace(".", "/") / "settings.py").read_text()
        default_port = int(re.search(r"default_port=(\d+)", settings).group(1))
        process = OURS[name].process
        assert process.port == default_port
        assert _listening_ports(process) == {default_port, t.internal(default_port)}
        assert OURS[name].env["INTERNAL_PORT"] == str(process.internal_port)


SERVICES = sorted(p.name for p in (ROOT / "extracted").iterdir() if (p / "settings.py").exists())


@pytest.mark.parametrize("service", SERVICES)
def test_every_extracted_service_runs_its_server_and_every_consumer(service):
    """A service that lands under extracted/ without its registry entry fails here (add one Component)."""
    package = f"extracted.{service}"
    commands = [p.process.command for p in OURS.values() if p.process.command[2:3] == (package,)]
    assert any(c[3] == "serve" for c in commands), f"{service}: no serve process in deploy/topology.py"
    consumed = {c[4] for c in commands if c[3] == "consume"}
    assert consumer_names(package) <= consumed
    component = next(c for c in t.COMPONENTS if any(p.command[2:3] == (package,) for p in c.processes))
    assert any(m[2:4] == (package, "migrate") for m in component.migrate), "the bootstrap must migrate it"


def test_the_gateway_command_parses_with_the_runners_own_parser():
    from strangler_proxy.server.config import parse_config

    gateway = OURS["gateway"]
    env = {**gateway.env, "ROUTES_FILE": str(ROOT / "strangler_proxy" / "routes.yaml")}
    config = parse_config(list(gateway.process.command[3:]), env=env)
    assert (config.host, config.port) == ("0.0.0.0", gateway.process.port)
    assert config.upstream == gateway.env["MONOLITH_URL"]


def test_the_monolith_serves_its_public_and_internal_ports():
    monolith = OURS["monolith"].process
    assert _listening_ports(monolith) == {monolith.port, monolith.internal_port}
    assert OURS["monolith"].env["INTERNAL_PORT"] == str(monolith.internal_port)


# ------------------------------------------------------------------------------------------- wiring


def test_every_url_points_at_a_process_listening_on_that_port():
    checked = 0
    for placed in PLACED.values():
        for reach in t.reaches(placed):
            target = PLACED[reach.target].process
            listening = {
                target.port,
                target.internal_port,
                target.metrics_port,
                15672 if target.name == "rabbitmq" else None,
            }
            assert reach.port in listening, (placed.name, reach)
            checked += 1
    assert checked >= 40


def test_the_gateway_reaches_services_on_their_public_port_and_everyone_else_on_the_internal_one():
    for placed in OURS.values():
        for reach in t.reaches(placed):
            target = PLACED[reach.target].process
            if target.kind != "http" or not target.internal_port:
                continue
            expected = target.port if placed.name in ("gateway", "sandbox") else target.internal_port
            assert reach.port == expected, (placed.name, reach)


def test_every_database_is_reached_only_by_its_owner_and_the_jobs():
    hosts = {db.host: db for db in t.DATABASES}
    for placed in PLACED.values():
        for reach in t.reaches(placed):
            if reach.target in hosts:
                owner = t.DATABASE_OWNERS.get(hosts[reach.target].name, "unleash")
                assert placed.component in (owner, "bootstrap", "backup") or placed.name == owner, (
                    placed.name,
                    reach,
                )


def test_each_extracted_service_has_its_own_database():
    urls = [
        OURS[n].env[v]
        for n, v in (
            ("monolith", "DATABASE_URL"),
            ("product-service", "PRODUCT_DATABASE_URL"),
            ("auth-service", "AUTH_DATABASE_URL"),
        )
    ]
    assert len({urlsplit(t.SECRET_REF.sub("x", u)).hostname for u in urls}) == 3


def test_the_product_service_runs_on_the_mongo_adapter_in_this_profile():
    assert OURS["product-service"].env["CATALOG_STORE_URL"].startswith("mongodb://mongo:")


def test_every_process_starts_after_what_it_depends_on_and_everything_after_the_bootstrap():
    for placed in PLACED.values():
        for dependency in placed.process.depends:
            target = PLACED[dependency].process
            assert target.kind == "job" or target.probe.command or target.probe.ready, (
                placed.name,
                dependency,
            )
    bootstrap_needs = {r.target for r in t.reaches(PLACED["bootstrap"])}
    assert {db.host for db in t.DATABASES} - {"postgres-unleash"} <= bootstrap_needs


@pytest.mark.parametrize("name", sorted(PLACED))
def test_every_process_has_both_probes(name):
    probe = PLACED[name].process.probe
    if PLACED[name].process.kind in ("job", "cron"):
        return
    assert probe.command or (probe.port and probe.ready and probe.live)
    for target in probe.command[3:] if probe.command[:3] == ("python", "-m", "deploy.probe") else ():
        assert target in PLACED[name].env, f"the probe names {target}, which the process does not get"


def test_images_of_others_are_pinned():
    for placed in PLACED.values():
        image = placed.process.image
        if image != t.OUR_IMAGE:
            assert ":" in image, image
            assert not image.endswith(":latest"), image


# ------------------------------------------------------------------------------------------- signed events


def _consumes_events(placed) -> bool:
    """A chassis `consume` command, or a monolith `sync <entity> follow` whose command runs a consumer."""
    command = placed.process.command
    if "consume" in command:
        return True
    if command[:3] == ("python", "manage.py", "sync") and command[4] == "follow":
        module = ROOT / "migrations_data" / command[3] / "command.py"
        code = module.read_text() if module.exists() else ""
        return "run_receiver(" in code or "ConsumerWorker(" in code
    return False


def test_every_event_consumer_and_only_it_fetches_the_keys_of_every_publisher_of_a_critical_type():
    from contracts.event_trust import PUBLISHERS

    assert set(common.CRITICAL_EVENT_PUBLISHERS) == {s for allowed in PUBLISHERS.values() for s in allowed}
    consumers = {name for name, p in OURS.items() if _consumes_events(p)}
    assert {
        "sync-payments-follow",
        "order-consumer-orchestrator",
        "notification-consumer-events",
    } <= consumers
    assert {name for name, p in OURS.items() if "EVENT_KEYS_URLS" in p.env} == consumers
    for name in consumers:
        reached = {(r.target, r.port) for r in t.reaches(OURS[name])}
        published = {(proc, t.internal(port)) for proc, port in common.CRITICAL_EVENT_PUBLISHERS.values()}
        assert published <= reached, name


@pytest.mark.parametrize("component", sorted(SETTINGS))
def test_signed_events_are_enforced_with_one_event_key_per_component(component):
    placed = [p for p in OURS.values() if p.component == component]
    assert {p.env["EVENT_SIGNATURES"] for p in placed} == {"enforce"}
    assert {p.env["EVENT_KEY_ENCRYPTION_KEY"] for p in placed} == {
        f"${{{component.upper()}_EVENT_KEY_ENCRYPTION_KEY}}"
    }


def test_the_consumers_network_policy_reaches_each_publishers_key_endpoint_and_it_lets_them_in():
    from deploy import k8s

    everyone = list(t.all_processes())
    for source, (publisher, _) in common.CRITICAL_EVENT_PUBLISHERS.items():
        policy = k8s.network_policy(OURS[publisher], everyone)
        allowed_in = {
            peer["podSelector"]["matchLabels"]["app.kubernetes.io/name"]
            for rule in policy["spec"]["ingress"]
            if {"protocol": "TCP", "port": OURS[publisher].process.internal_port} in rule["ports"]
            for peer in rule["from"]
            if "podSelector" in peer
        }
        consumers = {name for name, p in OURS.items() if "EVENT_KEYS_URLS" in p.env}
        assert consumers <= allowed_in, (source, consumers - allowed_in)


def test_a_consumers_event_keys_urls_load_with_the_real_settings_parser():
    from chassis.settings import event_signing_settings

    secrets = {s.name: new_value(s) for s in t.SECRETS}
    env = {**_render(OURS["sync-payments-follow"].env, secrets), "DEBUG": "false"}
    loaded = event_signing_settings(env)
    assert loaded["EVENT_SIGNATURES"] == "enforce"
    assert loaded["EVENT_KEY_ENCRYPTION_KEY"] == secrets["MONOLITH_EVENT_KEY_ENCRYPTION_KEY"]
    assert loaded["EVENT_KEYS_URLS"]["payment_service"] == (
        "http://payment-service:9104/.well-known/event-keys.json"
    )
    assert loaded["EVENT_KEYS_URLS"]["order_service"].startswith("http://order-service:9103/")
