"""The ecosystem's own validators over the generated files, offline (no Docker engine, no cluster here):

- compose: the Compose specification's JSON schema as vendored by check-jsonschema;
- k8s: `kubectl kustomize` renders the base and every overlay, and every object is validated against the
  Kubernetes OpenAPI schemas (kubernetes-validate, strict: unknown fields are errors);
- prometheus: promtool (Debian's prometheus package, unpacked by `make promtool`) checks the configuration
  and the alert rules and runs the rules' unit tests (deploy/prometheus/alerts.test.yml).
"""

from __future__ import annotations

import functools
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
K8S = ROOT / "deploy" / "k8s"
KUBERNETES_VERSION = "1.31.0"  # the oldest minor the manifests target (HPA v2, PDB v1, CronJob v1)
PROMTOOL = ROOT / ".cache" / "prometheus" / "usr" / "bin" / "promtool"


class ToolMissing(Exception):
    pass


@dataclass
class Report:
    checked: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "checked": self.checked, "problems": self.problems}

    def text(self) -> str:
        lines = [f"ok: {c}" for c in self.checked] + [f"PROBLEM: {p}" for p in self.problems]
        return "\n".join(lines)


def _tool(name: str) -> str:
    found = shutil.which(name, path=str(BIN)) or shutil.which(name)
    if not found:
        raise ToolMissing(f"{name} is not installed (make install)")
    return found


def validate_compose() -> Report:
    report = Report()
    result = subprocess.run(
        [
            _tool("check-jsonschema"),
            "--builtin-schema",
            "vendor.compose-spec",
            str(ROOT / "docker-compose.yml"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode == 0:
        report.checked.append("docker-compose.yml against the Compose specification schema")
    else:
        report.problems.append(f"docker-compose.yml: {(result.stdout + result.stderr).strip()}")
    return report


def render_kustomization(folder: Path) -> list[dict[str, Any]]:
    result = subprocess.run(
        [_tool("kubectl"), "kustomize", "--load-restrictor", "LoadRestrictionsNone", str(folder)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise ValueError(result.stderr.strip() or result.stdout.strip())
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when there: the same documents, faster
    return [doc for doc in yaml.load_all(result.stdout, Loader=loader) if doc]


def kustomizations() -> list[Path]:
    return [K8S / "base", *sorted(p for p in (K8S / "overlays").iterdir() if p.is_dir())]


def validate_k8s() -> Report:
    import kubernetes_validate

    # kubernetes_validate reads and parses the schema files (the definitions: several MB of JSON) again for
    # every object; they never change within a run, so each is read once (the parsed schemas are not mutated).
    utils = kubernetes_validate.utils
    if not hasattr(utils.schema_contents, "cache_info"):
        utils.schema_contents = functools.lru_cache(maxsize=None)(utils.schema_contents)
    report = Report()
    for folder in kustomizations():
        name = folder.relative_to(ROOT).as_posix()
        try:
            documents = render_kustomization(folder)
        except ValueError as exc:
            report.problems.append(f"{name}: kustomize: {exc}")
            continue
        bad = 0
        for doc in documents:
            where = f"{name}: {doc.get('kind')}/{doc.get('metadata', {}).get('name')}"
            try:
                kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
            except kubernetes_validate.ValidationError as exc:
                bad += 1
                report.problems.append(f"{where}: {exc.message} at {'.'.join(map(str, exc.path))}")
            except kubernetes_validate.utils.SchemaNotFoundError as exc:
                bad += 1
                report.problems.append(f"{where}: no schema ({exc})")
        if not bad:
            report.checked.append(
                f"{name}: {len(documents)} objects valid for Kubernetes {KUBERNETES_VERSION}"
            )
    return report


def validate_prometheus() -> Report:
    if not PROMTOOL.exists():
        raise ToolMissing(f"{PROMTOOL.relative_to(ROOT)} is missing (make promtool)")
    report = Report()
    folder = ROOT / "deploy" / "prometheus"
    with tempfile.TemporaryDirectory() as tmp:
        # the configuration names rule files by their path in the container; check it beside a copy
        config = yaml.safe_load((folder / "prometheus.yml").read_text())
        config["rule_files"] = [str(folder / Path(p).name) for p in config.get("rule_files", [])]
        copy = Path(tmp) / "prometheus.yml"
        copy.write_text(yaml.safe_dump(config))
        steps = [
            ("prometheus.yml", ["check", "config", "--syntax-only", str(copy)]),
            ("alerts.yml", ["check", "rules", str(folder / "alerts.yml")]),
            ("alerts.test.yml", ["test", "rules", str(folder / "alerts.test.yml")]),
        ]
        for label, args in steps:
            result = subprocess.run(
                [str(PROMTOOL), *args], capture_output=True, text=True, check=False, cwd=folder
            )
            if result.returncode == 0:
                report.checked.append(f"promtool {' '.join(args[:2])} {label}")
            else:
                report.problems.append(f"{label}: {(result.stdout + result.stderr).strip()}")
    return report


VALIDATORS: dict[str, Callable[[], Report]] = {
    "compose": validate_compose,
    "k8s": validate_k8s,
    "prometheus": validate_prometheus,
}
