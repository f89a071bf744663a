"""The generated deployment files: current with the registry, valid for the ecosystem's own validators
(the Compose specification's schema, kustomize + the Kubernetes schemas), and the Kubernetes policies
asserted object by object on what `kubectl kustomize` renders for each overlay."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from deploy import generate, k8s, validate
from deploy import topology as t
from deploy.secrets import new_value

ROOT = Path(__file__).resolve().parents[2]
OVERLAYS = {path.name: path for path in validate.kustomizations()}
RENDERED = {name: validate.render_kustomization(path) for name, path in OVERLAYS.items()}
PLACED = {p.name: p for p in t.all_processes()}


def objects(overlay: str, kind: str) -> list[dict]:
    return [doc for doc in RENDERED[overlay] if doc["kind"] == kind]


def by_name(overlay: str, kind: str) -> dict[str, dict]:
    return {doc["metadata"]["name"]: doc for doc in objects(overlay, kind)}


def pod_spec(doc: dict) -> dict:
    if doc["kind"] == "CronJob":
        return doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return doc["spec"]["template"]["spec"]


WORKLOAD_KINDS = ("Deployment", "StatefulSet", "Job", "CronJob")


def workloads(overlay: str) -> list[dict]:
    return [doc for doc in RENDERED[overlay] if doc["kind"] in WORKLOAD_KINDS]


# ------------------------------------------------------------------------------------------- files


def test_the_committed_generated_files_are_what_the_registry_makes_now():
    assert generate.stale_files() == [], "run make deploy-gen"


def test_the_compose_file_is_valid_for_the_compose_specification():
    report = validate.validate_compose()
    assert report.ok, report.problems


def test_the_compose_schema_check_refuses_an_invalid_file(tmp_path, monkeypatch):
    bad = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    bad["services"]["monolith"]["depends_on"]["redis"]["condition"] = "service_happy"
    (tmp_path / "docker-compose.yml").write_text(yaml.safe_dump(bad))
    monkeypatch.setattr(validate, "ROOT", tmp_path)
    assert not validate.validate_compose().ok


def test_every_overlay_renders_and_every_object_is_valid_for_kubernetes():
    report = validate.validate_k8s()
    assert report.ok, report.problems
    assert {"base", "dev", "prod"} <= set(OVERLAYS)


def test_the_kubernetes_validation_refuses_an_unknown_field():
    import kubernetes_validate

    deployment = json.loads(json.dumps(by_name("prod", "Deployment")["gateway"]))
    deployment["spec"]["template"]["spec"]["containers"][0]["readinessProbes"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, validate.KUBERNETES_VERSION, strict=True)


# ------------------------------------------------------------------------------------------- workloads


@pytest.mark.parametrize("overlay", ["dev", "prod"])
def test_every_long_running_container_has_both_probes_requests_limits_and_runs_locked_down(overlay):
    checked = 0
    for doc in workloads(overlay):
        spec = pod_spec(doc)
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["automountServiceAccountToken"] is False
        for container in spec["containers"]:
            where = f"{doc['kind']}/{doc['metadata']['name']}"
            if doc["kind"] in ("Deployment", "StatefulSet"):
                assert "readinessProbe" in container, where
                assert "livenessProbe" in container, where
            resources = container["resources"]
            assert set(resources["requests"]) == set(resources["limits"]) == {"cpu", "memory"}, where
            security = container["securityContext"]
            assert security["readOnlyRootFilesystem"] is True, where
            assert security["runAsNonRoot"] is True, where
            assert security["runAsUser"] > 0, where
            assert security["allowPrivilegeEscalation"] is False, where
            assert security["capabilities"]["drop"] == ["ALL"], where
            checked += 1
    assert checked == len(k8s.k8s_processes())


def test_http_probes_use_readyz_and_healthz_of_the_services():
    checked = 0
    for doc in objects("prod", "Deployment"):
        container = pod_spec(doc)["containers"][0]
        kind = doc["metadata"]["labels"]["strangler.io/kind"]
        if kind == "http" and doc["metadata"]["name"] != "sandbox":
            assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
            assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
            checked += 1
    assert checked == sum(1 for p in t.our_processes() if p.process.kind == "http" and p.name != "sandbox")


@pytest.mark.parametrize("overlay", ["dev", "prod"])
def test_every_http_deployment_has_an_autoscaler_on_it(overlay):
    autoscalers = {
        doc["spec"]["scaleTargetRef"]["name"] for doc in objects(overlay, "HorizontalPodAutoscaler")
    }
    http = {
        doc["metadata"]["name"]
        for doc in objects(overlay, "Deployment")
        if doc["metadata"]["labels"]["strangler.io/kind"] == "http" and doc["metadata"]["name"] != "sandbox"
    }
    assert http >= {"gateway", "monolith", "product-service", "auth-service"}
    assert http <= autoscalers


def test_prod_spreads_three_replicas_over_zones_and_a_zone_drain_keeps_a_quorum():
    budgets = {
        doc["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"]: doc
        for doc in objects("prod", "PodDisruptionBudget")
    }
    for doc in objects("prod", "Deployment"):
        name = doc["metadata"]["name"]
        spec = pod_spec(doc)
        zone = next(c for c in spec["topologySpreadConstraints"] if c["topologyKey"] == k8s.ZONE)
        assert (zone["maxSkew"], zone["whenUnsatisfiable"]) == (1, "DoNotSchedule"), name
        assert spec["affinity"]["podAntiAffinity"], name
        assert budgets[name]["spec"]["maxUnavailable"] == 1, name
        if doc["metadata"]["labels"]["strangler.io/kind"] == "http":
            assert doc["spec"]["replicas"] == 3, name
            # three zones, at most one pod per zone more than another: draining one zone evicts at most
            # one pod, one at a time (the budget), so two of three keep serving
            assert doc["spec"]["replicas"] - budgets[name]["spec"]["maxUnavailable"] >= 2


def test_the_bootstrap_is_a_job_and_the_backup_a_cron_job_with_its_volume():
    job = by_name("prod", "Job")["bootstrap"]
    assert pod_spec(job)["containers"][0]["command"][:3] == ["python", "-m", "deploy.bootstrap"]
    cron = by_name("prod", "CronJob")["backup"]
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"
    claims = {
        v["persistentVolumeClaim"]["claimName"]
        for v in pod_spec(cron)["volumes"]
        if "persistentVolumeClaim" in v
    }
    assert claims == {"backups"}
    assert "backups" in by_name("prod", "PersistentVolumeClaim")


def test_routes_and_shadow_rules_are_config_maps_mounted_where_the_processes_read_them():
    maps = objects("prod", "ConfigMap")
    routes = next(m for m in maps if m["metadata"]["name"].startswith("cfg-routes-yaml"))
    assert routes["data"]["routes.yaml"] == (ROOT / "strangler_proxy" / "routes.yaml").read_text()
    gateway = pod_spec(by_name("prod", "Deployment")["gateway"])
    container = gateway["containers"][0]
    env = {e["name"]: e.get("value") for e in container["env"]}
    mount = next(m for m in container["volumeMounts"] if m["mountPath"] == env["ROUTES_FILE"])
    volume = next(v for v in gateway["volumes"] if v["name"] == mount["name"])
    assert volume["configMap"]["name"] == routes["metadata"]["name"]  # the hashed name kustomize made


# ------------------------------------------------------------------------------------------- secrets


@pytest.mark.parametrize("overlay", ["base", "dev", "prod"])
def test_no_secret_value_is_in_a_manifest_only_references(overlay):
    assert not objects(overlay, "Secret")
    for doc in workloads(overlay):
        for container in pod_spec(doc)["containers"]:
            for entry in container.get("env", []):
                if entry["name"] in t.SECRET_NAMES or entry["name"] in ("SECRET_KEY", "INTERNAL_API_TOKEN"):
                    assert entry["valueFrom"]["secretKeyRef"]["name"] == k8s.SECRET_NAME, entry
                for secret in t.SECRET_NAMES:
                    assert secret not in (entry.get("value") or "").replace(f"$({secret})", ""), entry


def test_no_development_default_of_the_code_appears_in_any_generated_file():
    from chassis.settings import DEV_INTERNAL_API_TOKEN
    from contracts.identity import DEV_INTERNAL_IDENTITY_KEY
    from legacy_monolith.settings import DEV_SECRET_KEY, DEV_WEBHOOK_SECRET

    text = "\n".join(generate.generated_files().values())
    for dev in (
        DEV_INTERNAL_API_TOKEN,
        DEV_INTERNAL_IDENTITY_KEY,
        DEV_SECRET_KEY,
        DEV_WEBHOOK_SECRET,
        "dev-only",
    ):
        assert dev not in text


def test_the_secret_manifest_holds_every_secret_the_manifests_reference(tmp_path):
    env_file = tmp_path / ".env"
    run = [sys.executable, "-m", "deploy", "secrets", "--env-file", str(env_file)]
    assert subprocess.run(run, cwd=ROOT, capture_output=True, check=False).returncode == 0
    first = env_file.read_text()
    assert subprocess.run(run, cwd=ROOT, capture_output=True, check=False).returncode == 0
    assert env_file.read_text() == first, "a second run rotated a secret"
    assert env_file.stat().st_mode & 0o077 == 0
    out = subprocess.run([*run, "--k8s"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    manifest = yaml.safe_load(out)
    referenced = {
        entry["valueFrom"]["secretKeyRef"]["key"]
        for doc in workloads("prod")
        for entry in pod_spec(doc)["containers"][0].get("env", [])
        if "valueFrom" in entry
    }
    assert referenced <= set(manifest["stringData"])
    assert "BEGIN PRIVATE KEY" in manifest["stringData"]["AUTH_OIDC_RSA_PRIVATE_KEY"]
    generated = "\n".join(generate.generated_files().values())  # rendered once, not once per secret
    assert not any(value in generated for value in manifest["stringData"].values())
    assert new_value(t.SECRETS[0]) != new_value(t.SECRETS[0])


# ------------------------------------------------------------------------------------------- network


def policies(overlay: str = "prod") -> dict[str, dict]:
    return {
        doc["spec"]["podSelector"].get("matchLabels", {}).get("app.kubernetes.io/name", "*"): doc
        for doc in objects(overlay, "NetworkPolicy")
    }


def allowed_in(name: str, port: int) -> set[str]:
    """Who may open a connection to `name` on `port`: pod names, or ns:<namespace>."""
    who = set()
    for rule in policies()[name]["spec"]["ingress"]:
        if any(p["port"] == port for p in rule["ports"]):
            for peer in rule["from"]:
                if "podSelector" in peer:
                    who.add(peer["podSelector"]["matchLabels"]["app.kubernetes.io/name"])
                else:
                    who.add("ns:" + peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"])
    return who


def allowed_out(name: str) -> set[tuple[str, int]]:
    out = set()
    for rule in policies()[name]["spec"]["egress"]:
        for peer in rule["to"]:
            if "podSelector" in peer:
                for port in rule["ports"]:
                    out.add((peer["podSelector"]["matchLabels"]["app.kubernetes.io/name"], port["port"]))
    return out


def test_everything_is_denied_unless_a_policy_allows_it_and_every_workload_has_one():
    everything = policies()["*"]
    assert everything["spec"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    names = {doc["metadata"]["name"] for doc in workloads("prod")}
    assert names <= set(policies())


def test_only_the_gateway_is_reached_from_the_edge():
    edge = {
        name
        for name in policies()
        if name != "*"
        for port in (8080,)
        if "ns:ingress-nginx" in allowed_in(name, port)
    }
    assert edge == {"gateway"}
    for name, doc in policies().items():
        for rule in doc["spec"].get("ingress", []):
            for peer in rule["from"]:
                if "namespaceSelector" in peer and name != "gateway":
                    assert (
                        peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
                        == "monitoring"
                    )


HTTP_SERVICES = [(p.name, p.process.port) for p in t.our_processes() if p.process.internal_port]


def test_every_service_of_the_migration_has_a_public_port_behind_the_gateway():
    assert {name for name, _ in HTTP_SERVICES} == {
        "monolith", "product-service", "auth-service", "order-service", "payment-service",
        "notification-service",
    }  # fmt: skip


@pytest.mark.parametrize(("service", "port"), HTTP_SERVICES)
def test_only_the_gateway_reaches_a_services_public_port(service, port):
    assert allowed_in(service, port) == {"gateway"}


def test_internal_ports_are_reached_only_by_sync_jobs_saga_participants_and_prometheus():
    order = {p.name for p in t.our_processes() if p.component == "order"}  # the saga's participants' callers
    payment = {p.name for p in t.our_processes() if p.component == "payment"}
    assert (
        allowed_in("product-service", 9101) == {"monolith", "sync-products-follow", "ns:monitoring"} | order
    )
    jwks = {"notification-service"} | payment
    # signed events: every event consumer fetches the event keys of the publishers of critical types
    consumers = {p.name for p in t.our_processes() if "EVENT_KEYS_URLS" in p.env}
    assert allowed_in("auth-service", 9102) == {"sync-users-follow", "ns:monitoring"} | jwks | consumers
    assert consumers <= allowed_in("order-service", 9103)
    assert consumers <= allowed_in("payment-service", 9104)
    # the token exchange; stock and payment participants; the Payment service's order lookups; legacy
    # credentials the Notification service checks
    callers = {"auth-service", "notification-service", "ns:monitoring"}
    assert allowed_in("monolith", 9000) == callers | order | payment


@pytest.mark.parametrize("db", t.DATABASES, ids=lambda db: db.name)
def test_each_database_is_reached_only_by_its_owner_and_the_bootstrap_and_backup_jobs(db):
    owner = t.DATABASE_OWNERS.get(db.name)
    owners = {p.name for p in t.our_processes() if p.component == owner} if owner else {"unleash"}
    allowed = allowed_in(db.host, 5432)
    assert allowed - owners <= {"bootstrap", "backup"}, allowed
    assert "backup" in allowed
    assert db.host not in {
        target
        for name in policies()
        if name not in owners | {"*", "bootstrap", "backup"}
        for target, _ in allowed_out(name)
    }


def test_workers_reach_only_what_their_environment_names():
    assert allowed_out("shadow-worker") == {
        ("postgres-techstore", 5432),
        ("postgres-shadow", 5432),
        ("postgres-control", 5432),
        ("rabbitmq", 5672),
        ("redis", 6379),
        ("unleash", 4242),
    }
    assert ("product-service", 9101) not in allowed_out("shadow-worker")
    assert ("postgres-techstore", 5432) not in allowed_out("product-consumer-catalog")


def test_only_the_notification_worker_reaches_the_smtp_relay_and_the_push_and_sms_providers():
    """NOTIFICATION_SMTP_HOST is a host name, not a URL: its reach is read with NOTIFICATION_SMTP_PORT."""
    notification = {p.name for p in t.our_processes() if p.component == "notification"}
    assert allowed_in("mailpit", 1025) == {"notification-worker"}
    assert {("mailpit", 1025), ("sandbox", 8900)} <= allowed_out("notification-worker")
    for name in notification - {"notification-worker"}:
        assert not {target for target, _ in allowed_out(name)} & {"mailpit", "sandbox"}, name
    # the providers' delivery receipts come in through the edge, like the card gateways' webhooks
    assert ("gateway", 8080) in allowed_out("sandbox")
    assert ("notification-service", 8105) not in allowed_out("sandbox")
