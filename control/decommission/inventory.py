"""What the monolith has and who uses it, derived rather than declared: its URLconf entries (walked from
ROOT_URLCONF) and which gateway route each (entry, method) reaches first; each app's tables and the
foreign keys into them (Django's model metadata); the code that reads an app's models (an import scan of
the other apps, the ACL adapters and the sync jobs, without importing any of it).

Nothing here imports the monolith: the URLconf and the models come from Django's registries, so the
control app keeps to its import contract (pyproject.toml) and works on whatever monolith the settings
name."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.urls import URLPattern, URLResolver, get_resolver

from control.routes_file import RouteInfo

MONOLITH_PACKAGE = "legacy_monolith"  # the monolith's apps are the installed apps under this package
TOOLING_APPS = frozenset({"core"})  # health, seeding and the demo: no business tables, no routes
INTERNAL_PREFIX = "/internal/"  # entries services call directly (never through the gateway: ops.internal)
_CONVERTER_SAMPLES = {
    "int": "1",
    "str": "X1",
    "slug": "x1",
    "path": "x",
    "uuid": "00000000-0000-0000-0000-000000000000",
}
_CONVERTER = re.compile(r"<(?:(?P<kind>\w+):)?\w+>")
SYNC_PACKAGES_SKIPPED = frozenset({"engine", "outbox", "management", "migrations"})


@dataclass(frozen=True)
class Entry:
    """One monolith URLconf entry: its name (the `view_name` of its requests, and the monolith's metrics
    label), its pattern, a concrete path it matches, the methods its view answers and its app."""

    view: str
    pattern: str
    sample: str
    methods: tuple[str, ...]
    app: str

    @property
    def internal(self) -> bool:
        return self.sample.startswith(INTERNAL_PREFIX)

    def as_dict(self) -> dict:
        return {"view": self.view, "path": self.pattern, "methods": list(self.methods), "app": self.app}


@dataclass(frozen=True)
class Owned:
    """An entry and the methods of it one route (or, route None, the gateway's default) reaches first."""

    entry: Entry
    methods: tuple[str, ...]
    route: str | None

    def as_dict(self) -> dict:
        return {**self.entry.as_dict(), "methods": list(self.methods)}


@dataclass(frozen=True)
class Relation:
    """A foreign key from a model of another app into one of the app's tables."""

    app: str
    field: str  # app_label.Model.field
    table: str

    def line(self) -> str:
        return f"{self.field} → {self.table}"


@dataclass(frozen=True)
class Reader:
    """Code outside the app that imports its models: another monolith app, an ACL adapter or a sync job."""

    kind: str  # app | acl | sync
    name: str  # the app label, the ACL package or the sync entity
    modules: tuple[str, ...]

    def as_dict(self) -> dict:
        return {"kind": self.kind, "name": self.name, "modules": list(self.modules)}


@dataclass
class Inventory:
    entries: list[Entry]
    routes: dict[str, RouteInfo]
    owned: list[Owned] = field(default_factory=list)

    def of_route(self, route: str) -> list[Owned]:
        return [o for o in self.owned if o.route == route]

    def of_app(self, app: str) -> list[Owned]:
        return [o for o in self.owned if o.entry.app == app]

    def apps_of_route(self, route: str) -> list[str]:
        return sorted({o.entry.app for o in self.of_route(route)})

    def routes_of_app(self, app: str) -> list[str]:
        """The routes that reach the app's entries (the gateway's default left out), in table order."""
        found = {o.route for o in self.of_app(app) if o.route is not None}
        return [r for r in self.routes if r in found]


def sample_path(pattern: str) -> str:
    return "/" + _CONVERTER.sub(lambda m: _CONVERTER_SAMPLES.get(m["kind"] or "str", "x"), pattern)


def _walk(patterns: Iterable, prefix: str) -> Iterator[tuple[str, URLPattern]]:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern), pattern


def _view_methods(view_class) -> tuple[str, ...]:
    names = [
        m for m in view_class.http_method_names if m not in ("options", "head") and hasattr(view_class, m)
    ]
    methods = [m.upper() for m in names]
    if "GET" in methods:
        methods.append("HEAD")
    return tuple(methods)


def monolith_entries(urlconf: str | None = None) -> list[Entry]:
    """The monolith apps' class-based URLconf entries (function views such as health are tooling)."""
    entries = []
    for route, pattern in _walk(get_resolver(urlconf).url_patterns, ""):
        view_class = getattr(pattern.callback, "view_class", None) or getattr(pattern.callback, "cls", None)
        if view_class is None or "(?P" in route or route.startswith("^"):
            continue
        config = apps.get_containing_app_config(view_class.__module__)
        if (
            config is None
            or not config.name.startswith(MONOLITH_PACKAGE + ".")
            or config.label in TOOLING_APPS
        ):
            continue
        entries.append(
            Entry(
                view=pattern.name or route,
                pattern="/" + route,
                sample=sample_path(route),
                methods=_view_methods(view_class),
                app=config.label,
            )
        )
    return entries


def first_route(routes: Iterable[RouteInfo], method: str, path: str) -> RouteInfo | None:
    """The route the gateway picks for (method, path): the first that matches; None = its default."""
    return next((r for r in routes if r.matches(method, path)), None)


def build_inventory(routes: dict[str, RouteInfo], urlconf: str | None = None) -> Inventory:
    entries = monolith_entries(urlconf)
    inventory = Inventory(entries=entries, routes=routes)
    for entry in entries:
        by_route: dict[str | None, list[str]] = {}
        for method in entry.methods:
            route = first_route(routes.values(), method, entry.sample)
            by_route.setdefault(route.id if route else None, []).append(method)
        for route_id, methods in by_route.items():
            inventory.owned.append(Owned(entry, tuple(methods), route_id))
    return inventory


def monolith_apps() -> list[str]:
    return [
        c.label
        for c in apps.get_app_configs()
        if c.name.startswith(MONOLITH_PACKAGE + ".") and c.label not in TOOLING_APPS
    ]


def app_tables(app: str) -> list[str]:
    """The app's tables, many-to-many link tables included (unmanaged and proxy models left out)."""
    tables = []
    for model in apps.get_app_config(app).get_models(include_auto_created=True):
        meta = model._meta
        if meta.managed and not meta.proxy and meta.db_table not in tables:
            tables.append(meta.db_table)
    return sorted(tables)


def relations_into(app: str) -> list[Relation]:
    """Foreign keys (and one-to-one, many-to-many) of other apps' models into the app's tables."""
    found = []
    for model in apps.get_models(include_auto_created=True):
        if model._meta.app_label == app:
            continue
        for f in model._meta.get_fields():
            related = getattr(f, "related_model", None)
            if not (f.is_relation and f.concrete and related is not None) or related._meta.app_label != app:
                continue
            found.append(
                Relation(model._meta.app_label, f"{model._meta.label}.{f.name}", related._meta.db_table)
            )
    return sorted(found, key=lambda r: r.field)


def _imported_modules(path: Path, package: str) -> set[str]:
    """Absolute names of the modules a file imports (relative imports resolved against its package)."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError):
        return set()
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = parts[: len(parts) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


@cache
def _module_imports(root: str, package: str) -> dict[str, frozenset[str]]:
    """{module: what it imports} for every .py under root (a package directory)."""
    result = {}
    base = Path(root)
    for path in sorted(base.rglob("*.py")):
        relative = path.relative_to(base).with_suffix("")
        parts = [package, *relative.parts]
        if parts[-1] == "__init__":
            parts = parts[:-1]
        module = ".".join(parts)
        own_package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        result[module] = frozenset(_imported_modules(path, own_package))
    return result


def _importers(root: Path, package: str, target: str) -> list[str]:
    if not root.is_dir():
        return []
    return sorted(
        module
        for module, imports in _module_imports(str(root), package).items()
        if any(name == target or name.startswith(target + ".") for name in imports)
    )


def readers_of(app: str) -> list[Reader]:
    """The code outside `app` that imports it: the other monolith apps (tooling left out), the ACL
    adapters (acl_adapters/<package>) and the sync jobs (migrations_data/<entity>)."""
    target = f"{MONOLITH_PACKAGE}.{app}"
    readers = []
    for other in monolith_apps():
        if other == app:
            continue
        config = apps.get_app_config(other)
        modules = _importers(Path(config.path), config.name, target)
        if modules:
            readers.append(Reader("app", other, tuple(modules)))
    base = Path(settings.BASE_DIR)
    acl = base / "acl_adapters"
    if acl.is_dir():
        for package in sorted(p for p in acl.iterdir() if (p / "__init__.py").exists()):
            modules = _importers(package, f"acl_adapters.{package.name}", target)
            if modules:
                readers.append(Reader("acl", f"acl_adapters.{package.name}", tuple(modules)))
    readers.extend(Reader("sync", entity, modules) for entity, modules in sync_readers(app).items())
    return readers


def sync_readers(app: str) -> dict[str, tuple[str, ...]]:
    """{sync entity: its modules that import the app}: `sync <entity> ...` reads or writes its tables."""
    target = f"{MONOLITH_PACKAGE}.{app}"
    config = apps.get_app_config("migrations_data")
    found = {}
    for package in sorted(p for p in Path(config.path).iterdir() if (p / "__init__.py").exists()):
        if package.name in SYNC_PACKAGES_SKIPPED:
            continue
        modules = _importers(package, f"{config.name}.{package.name}", target)
        if modules:
            found[package.name] = tuple(modules)
    return found
