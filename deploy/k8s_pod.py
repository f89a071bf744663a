"""The pod of one process of the registry (deploy/topology.py), for deploy/k8s.py's workloads: its container
(command, ports, environment with Secret references, readiness and liveness probes, requests and limits, a
non-root user, a read-only root filesystem, mounts) and its spec (scratch and ConfigMap volumes, spread over
zones and hosts, the Prometheus annotations)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from deploy import topology as t

SECRET_NAME = "strangler-secrets"
PART_OF = "strangler"
ZONE = "topology.kubernetes.io/zone"
HOST = "kubernetes.io/hostname"


def labels(placed: t.Placed) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": placed.name,
        "app.kubernetes.io/part-of": PART_OF,
        "app.kubernetes.io/component": placed.component,
        "strangler.io/kind": placed.process.kind,
    }


def selector(name: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": name}


def config_map_name(source: str) -> str:
    return "cfg-" + re.sub(r"[^a-z0-9]+", "-", Path(source).name.lower()).strip("-")


def env_list(env: dict[str, str] | Any) -> list[dict[str, Any]]:
    """Secret-only values become secretKeyRefs; values embedding a secret use $(NAME) after it."""
    out: list[dict[str, Any]] = []
    defined: set[str] = set()

    def secret_ref(var: str, secret: str) -> dict[str, Any]:
        return {"name": var, "valueFrom": {"secretKeyRef": {"name": SECRET_NAME, "key": secret}}}

    for var, value in env.items():
        whole = t.SECRET_REF.fullmatch(value)
        if whole:
            out.append(secret_ref(var, whole.group(1)))
            defined.add(var)
    for var, value in env.items():
        if t.SECRET_REF.fullmatch(value):
            continue
        for secret in t.SECRET_REF.findall(value):
            if secret not in defined:
                out.append(secret_ref(secret, secret))
                defined.add(secret)
        out.append({"name": var, "value": t.SECRET_REF.sub(lambda m: f"$({m.group(1)})", value)})
    return out


def _probe(process: t.Process, path: str | None) -> dict[str, Any]:
    timing = {"periodSeconds": 10, "timeoutSeconds": 3, "failureThreshold": 3}
    if process.probe.command:
        return {"exec": {"command": list(process.probe.command)}, **timing}
    return {"httpGet": {"path": path, "port": process.probe.port}, **timing}


def container(placed: t.Placed) -> dict[str, Any]:
    process = placed.process
    spec: dict[str, Any] = {"name": process.name, "image": process.image}
    if process.image == t.OUR_IMAGE:
        spec["imagePullPolicy"] = "IfNotPresent"
        if process.command:
            spec["command"] = list(process.command)
    elif process.command:
        spec["args"] = list(process.command)
    ports = [("http", process.port), ("internal", process.internal_port), ("metrics", process.metrics_port)]
    if any(port for _, port in ports):
        spec["ports"] = [{"name": n, "containerPort": p} for n, p in ports if p]
    if placed.env:
        spec["env"] = env_list(placed.env)
    cpu_req, mem_req, cpu_lim, mem_lim = process.resources
    spec["resources"] = {
        "requests": {"cpu": cpu_req, "memory": mem_req},
        "limits": {"cpu": cpu_lim, "memory": mem_lim},
    }
    if process.kind not in ("job", "cron"):
        spec["readinessProbe"] = _probe(process, process.probe.ready)
        spec["livenessProbe"] = {**_probe(process, process.probe.live), "initialDelaySeconds": 10}
    spec["securityContext"] = {
        "runAsNonRoot": True,
        "runAsUser": process.run_as,
        "runAsGroup": process.run_as,
        "readOnlyRootFilesystem": True,
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
    }
    mounts = [{"name": _volume_name(path), "mountPath": path} for path in process.writable]
    mounts += [{"name": volume, "mountPath": path} for path, volume in process.volumes.items()]
    mounts += [
        {"name": config_map_name(src), "mountPath": path, "subPath": Path(src).name, "readOnly": True}
        for path, src in process.config.items()
    ]
    spec["volumeMounts"] = mounts
    return spec


def _volume_name(path: str) -> str:
    return "scratch" + re.sub(r"[^a-z0-9]+", "-", path.lower()).rstrip("-")


def pod_spec(placed: t.Placed) -> dict[str, Any]:
    process = placed.process
    volumes: list[dict[str, Any]] = [{"name": _volume_name(p), "emptyDir": {}} for p in process.writable]
    volumes += [
        {"name": config_map_name(src), "configMap": {"name": config_map_name(src)}}
        for src in process.config.values()
    ]
    if process.kind == "cron":
        volumes += [{"name": v, "persistentVolumeClaim": {"claimName": v}} for v in process.volumes.values()]
    spec: dict[str, Any] = {
        "automountServiceAccountToken": False,
        "securityContext": {
            "runAsNonRoot": True,
            "fsGroup": process.run_as,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [container(placed)],
        "volumes": volumes,
    }
    if process.kind not in ("job", "cron"):
        spec["topologySpreadConstraints"] = [
            {
                "maxSkew": 1,
                "topologyKey": ZONE,
                "whenUnsatisfiable": "DoNotSchedule",
                "labelSelector": {"matchLabels": selector(process.name)},
            },
            {
                "maxSkew": 1,
                "topologyKey": HOST,
                "whenUnsatisfiable": "ScheduleAnyway",
                "labelSelector": {"matchLabels": selector(process.name)},
            },
        ]
        spec["affinity"] = {
            "podAntiAffinity": {
                "preferredDuringSchedulingIgnoredDuringExecution": [
                    {
                        "weight": 100,
                        "podAffinityTerm": {
                            "topologyKey": HOST,
                            "labelSelector": {"matchLabels": selector(process.name)},
                        },
                    }
                ]
            }
        }
    return spec


def pod_template(placed: t.Placed) -> dict[str, Any]:
    process = placed.process
    annotations = {}
    scrape = process.metrics_port or process.internal_port
    if scrape:
        annotations = {
            "prometheus.io/scrape": "true",
            "prometheus.io/port": str(scrape),
            "prometheus.io/path": process.metrics_path,
        }
    meta: dict[str, Any] = {"labels": labels(placed)}
    if annotations:
        meta["annotations"] = annotations
    return {"metadata": meta, "spec": pod_spec(placed)}
