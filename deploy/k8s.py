"""The kustomize base (deploy/k8s/base/) from the registry (deploy/topology.py); pods: deploy/k8s_pod.py.

Per process: a Deployment (StatefulSet for a datastore, Job for the bootstrap, CronJob for the backup) with
readiness and liveness probes, requests and limits, a non-root user and a read-only root filesystem, spread
over zones; a Service; a PodDisruptionBudget; an HPA for the gateway and each HTTP service; a NetworkPolicy
that lets in exactly the processes whose environment names this one (plus the ingress controller for the
gateway, and Prometheus for metrics ports) and lets out exactly what its own environment names (plus DNS).
Secrets are referenced from the Secret `strangler-secrets` (created by `python -m deploy secrets --k8s`),
never written here. Files the processes read (routes.yaml, the shadow rules) become ConfigMaps.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from deploy import topology as t
from deploy.k8s_pod import (  # noqa: F401 (re-exported: the pod's parts were defined here)
    HOST,
    PART_OF,
    SECRET_NAME,
    ZONE,
    config_map_name,
    container,
    env_list,
    labels,
    pod_spec,
    pod_template,
    selector,
)

PROMETHEUS_NAMESPACE = "monitoring"  # where the platform's Prometheus runs
INGRESS_NAMESPACE = "ingress-nginx"  # where the edge's ingress controller runs


def _metadata(placed: t.Placed, name: str | None = None) -> dict[str, Any]:
    return {"name": name or placed.name, "labels": labels(placed)}


def workload(placed: t.Placed) -> dict[str, Any]:
    process = placed.process
    template = pod_template(placed)
    if process.kind == "job":
        template["spec"]["restartPolicy"] = "OnFailure"
        return {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": _metadata(placed),
            "spec": {"backoffLimit": 6, "ttlSecondsAfterFinished": 86400, "template": template},
        }
    if process.kind == "cron":
        template["spec"]["restartPolicy"] = "OnFailure"
        return {
            "apiVersion": "batch/v1",
            "kind": "CronJob",
            "metadata": _metadata(placed),
            "spec": {
                "schedule": process.schedule,
                "concurrencyPolicy": "Forbid",
                "successfulJobsHistoryLimit": 3,
                "failedJobsHistoryLimit": 3,
                "jobTemplate": {"spec": {"backoffLimit": 2, "template": template}},
            },
        }
    if process.kind == "datastore":
        claims = [
            {
                "metadata": {"name": volume},
                "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "10Gi"}}},
            }
            for volume in process.volumes.values()
        ]
        spec: dict[str, Any] = {
            "serviceName": process.name,
            "replicas": 1,
            "selector": {"matchLabels": selector(process.name)},
            "template": template,
        }
        if claims:
            spec["volumeClaimTemplates"] = claims
        return {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": _metadata(placed), "spec": spec}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _metadata(placed),
        "spec": {
            "replicas": process.replicas,
            "selector": {"matchLabels": selector(process.name)},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
            "template": template,
        },
    }


def service(placed: t.Placed) -> dict[str, Any] | None:
    process = placed.process
    ports = [("http", process.port), ("internal", process.internal_port), ("metrics", process.metrics_port)]
    ports = [(n, p) for n, p in ports if p]
    if not ports or process.kind in ("job", "cron"):
        return None
    spec: dict[str, Any] = {
        "selector": selector(process.name),
        "ports": [{"name": n, "port": p, "targetPort": n} for n, p in ports],
    }
    if process.kind == "datastore":
        spec["clusterIP"] = "None"
    return {"apiVersion": "v1", "kind": "Service", "metadata": _metadata(placed), "spec": spec}


def disruption_budget(placed: t.Placed) -> dict[str, Any] | None:
    if placed.process.kind in ("job", "cron"):
        return None
    # one pod at a time: with replicas spread over zones, a zone drain keeps the others serving
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": _metadata(placed),
        "spec": {"maxUnavailable": 1, "selector": {"matchLabels": selector(placed.name)}},
    }


def autoscaler(placed: t.Placed) -> dict[str, Any] | None:
    process = placed.process
    if not process.hpa:
        return None
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": _metadata(placed),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": process.name},
            "minReplicas": process.replicas,
            "maxReplicas": process.replicas * 4,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}},
                }
            ],
        },
    }


def _peer(name: str) -> dict[str, Any]:
    return {"podSelector": {"matchLabels": selector(name)}}


def _namespace(name: str) -> dict[str, Any]:
    return {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": name}}}


def network_policy(placed: t.Placed, everyone: list[t.Placed]) -> dict[str, Any]:
    process = placed.process
    ingress: list[dict[str, Any]] = []
    callers: dict[int, list[str]] = {}
    for other in everyone:
        for reach in t.reaches(other):
            if reach.target == placed.name:
                callers.setdefault(reach.port, []).append(other.name)
    for port, names in sorted(callers.items()):
        ingress.append(
            {"from": [_peer(n) for n in sorted(set(names))], "ports": [{"protocol": "TCP", "port": port}]}
        )
    if process.public:
        ingress.append(
            {"from": [_namespace(INGRESS_NAMESPACE)], "ports": [{"protocol": "TCP", "port": process.port}]}
        )
    scrape = process.metrics_port or process.internal_port
    if scrape:
        ingress.append(
            {"from": [_namespace(PROMETHEUS_NAMESPACE)], "ports": [{"protocol": "TCP", "port": scrape}]}
        )
    egress: list[dict[str, Any]] = [
        {
            "to": [_namespace("kube-system")],
            "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
        }
    ]
    for reach in t.reaches(placed):
        egress.append({"to": [_peer(reach.target)], "ports": [{"protocol": "TCP", "port": reach.port}]})
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": _metadata(placed),
        "spec": {
            "podSelector": {"matchLabels": selector(placed.name)},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": ingress,
            "egress": egress,
        },
    }


DEFAULT_DENY = {
    "apiVersion": "networking.k8s.io/v1",
    "kind": "NetworkPolicy",
    "metadata": {"name": "default-deny", "labels": {"app.kubernetes.io/part-of": PART_OF}},
    "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
}


def persistent_claims(placed: t.Placed) -> list[dict[str, Any]]:
    if placed.process.kind != "cron":
        return []
    return [
        {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": _metadata(placed, volume),
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "50Gi"}}},
        }
        for volume in placed.process.volumes.values()
    ]


def k8s_processes() -> list[t.Placed]:
    return [p for p in t.all_processes() if "k8s" in p.process.targets]


def objects_by_process() -> dict[str, list[dict[str, Any]]]:
    everyone = k8s_processes()
    out: dict[str, list[dict[str, Any]]] = {}
    for placed in everyone:
        docs = [
            workload(placed),
            service(placed),
            disruption_budget(placed),
            autoscaler(placed),
            network_policy(placed, everyone),
            *persistent_claims(placed),
        ]
        out[placed.name] = [d for d in docs if d is not None]
    return out


def config_files() -> dict[str, str]:
    """ConfigMap name -> repository file. The base names the files where they are (`../../../<file>`), so an
    edit of routes.yaml needs no regeneration (kustomize: `--load-restrictor LoadRestrictionsNone`)."""
    return {
        config_map_name(src): src
        for placed in k8s_processes()
        for src in placed.process.config.values()
        if not src.startswith("/")
    }


def kustomization(files: list[str]) -> dict[str, Any]:
    return {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "labels": [{"pairs": {"app.kubernetes.io/part-of": PART_OF}, "includeSelectors": False}],
        "resources": files,
        "configMapGenerator": [
            {"name": name, "files": [f"{Path(src).name}=../../../{src}"]}
            for name, src in sorted(config_files().items())
        ],
    }
