"""Which Prometheus metrics the code really exports, read from the source (no process needs to run): every
prometheus_client Counter/Gauge/Histogram/Summary and every chassis counter()/gauge()/histogram() declared
with a literal name, expanded to the series names Prometheus stores (`_total`, `_bucket`/`_sum`/`_count`).

Alert rules and dashboard panels name the metrics they need; a rule or panel whose metric is not exported yet
(a service still being built) is left out of the generated files until it is, and tests/deploy checks every
query left in against this catalogue. Metrics of exporters that are not our code (RabbitMQ's
rabbitmq_prometheus plugin) are listed in EXTERNAL with where they come from.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = (
    "chassis", "extracted", "legacy_monolith", "strangler_proxy", "migrations_data", "shadow", "control",
    "acl_adapters", "flags", "sandbox",
)  # fmt: skip
KINDS = {
    "Counter": "counter", "counter": "counter", "Gauge": "gauge", "gauge": "gauge",
    "Histogram": "histogram", "histogram": "histogram", "Summary": "summary",
}  # fmt: skip
# rabbitmq_prometheus, scraped at /metrics/detailed?family=queue_coarse_metrics (deploy/prometheus.py)
EXTERNAL = {
    "rabbitmq_detailed_queue_messages": "rabbitmq (rabbitmq_prometheus, family queue_coarse_metrics)",
    "rabbitmq_detailed_queue_messages_ready": "rabbitmq (rabbitmq_prometheus, family queue_coarse_metrics)",
    "up": "prometheus (every scrape target)",
}


@dataclass(frozen=True)
class Declared:
    name: str  # as declared
    kind: str
    where: str  # file:line

    def series(self) -> set[str]:
        base = self.name.removesuffix("_total") if self.kind == "counter" else self.name
        if self.kind == "counter":
            return {f"{base}_total", f"{base}_created"}
        if self.kind in ("histogram", "summary"):
            extra = ("_bucket",) if self.kind == "histogram" else ()
            return {f"{base}{s}" for s in ("_sum", "_count", "_created", *extra)} | (
                {base} if self.kind == "summary" else set()
            )
        return {base}


def _declared_in(path: Path) -> list[Declared]:
    found = []
    try:
        tree = ast.parse(path.read_text())
    except SyntaxError:
        return found
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        func = node.func
        name = (
            func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
        )
        first = node.args[0]
        literal = isinstance(first, ast.Constant) and isinstance(first.value, str)
        if name in KINDS and literal and first.value.replace("_", "").isalnum() and first.value.islower():
            found.append(Declared(first.value, KINDS[name], f"{path.relative_to(ROOT)}:{node.lineno}"))
    return found


@cache
def declared() -> tuple[Declared, ...]:
    out: list[Declared] = []
    for package in PACKAGES:
        folder = ROOT / package
        if folder.is_dir():
            for path in sorted(folder.rglob("*.py")):
                if "migrations" not in path.parts:
                    out.extend(_declared_in(path))
    return tuple(out)


@cache
def exported() -> frozenset[str]:
    """Every series name the code (and the listed external exporters) can produce."""
    names: set[str] = set(EXTERNAL)
    for metric in declared():
        names |= metric.series()
    return frozenset(names)


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (parsed with promql-parser, Prometheus' grammar)."""
    import promql_parser

    names: set[str] = set()

    def walk(node) -> None:
        if node is None:
            return
        if type(node).__name__ == "VectorSelector" and node.name:
            names.add(node.name)
        for attr in ("lhs", "rhs", "expr", "param", "vector_selector"):
            child = getattr(node, attr, None)
            if child is not None and not isinstance(child, (str, int, float)):
                walk(child)
        for arg in getattr(node, "args", None) or ():
            walk(arg)

    # Grafana's interval variable is not PromQL; other $variables sit inside label matchers' strings
    walk(promql_parser.parse(expr.replace("$__rate_interval", "5m")))
    return names


def missing(expr: str) -> set[str]:
    return metric_names(expr) - exported()
