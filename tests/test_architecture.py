"""The dependency rules of ARCHITECTURE.md, as import-linter contracts in pyproject.toml: they hold on the
tree, and a deliberate violation is caught (so the check cannot pass by checking nothing)."""

import ast
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
CONFIG = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"]


def lint_imports(cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--config", str(cwd / "pyproject.toml")],
        cwd=cwd,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(cwd)},
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def tree_copy(tmp_path_factory) -> Path:
    """The project's packages and pyproject.toml, copied where a test may break them."""
    copy = tmp_path_factory.mktemp("tree")
    for package in CONFIG["root_packages"]:
        shutil.copytree(REPO / package, copy / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", copy / "pyproject.toml")
    return copy


def test_every_dependency_rule_holds_on_the_tree():
    result = lint_imports(REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_every_project_package_is_under_some_rule():
    """A new top-level package must be named in root_packages, or no contract can see it."""
    packages = {p.parent.name for p in REPO.glob("*/__init__.py")} - {"tests", "bench", "strangler.egg-info"}
    assert packages <= set(CONFIG["root_packages"])


def test_every_service_is_in_the_independence_contract():
    services = {f"extracted.{p.parent.name}" for p in (REPO / "extracted").glob("*_service/__init__.py")}
    independence = [c for c in CONFIG["contracts"] if c["type"] == "independence"]
    assert [set(c["modules"]) for c in independence] == [services]


@pytest.mark.parametrize(
    ("module", "violation", "contract"),
    [
        (
            "extracted/product_service/leak.py",
            "from legacy_monolith.catalog import models\n",
            "A service imports no monolith",
        ),
        (
            "extracted/auth_service/leak.py",
            "import extracted.product_service.cache\n",
            "A service imports no other service",
        ),
        ("strangler_proxy/leak.py", "from extracted.auth_service import keys\n", "The gateway imports no"),
        (
            "legacy_monolith/leak.py",
            "import extracted.auth_service.models\n",
            "The monolith imports no service",
        ),
        ("acl_adapters/leak.py", "from extracted.product_service import selectors\n", "ACL adapters use"),
        ("contracts/leak.py", "import flags\n", "contracts and kernel import nothing"),
        ("kernel/leak.py", "import contracts.identity\n", "The shared layer imports nothing"),
        ("shadow/leak.py", "import chassis.broker\n", "shadow imports nothing"),
    ],
)
def test_a_deliberate_violation_breaks_its_contract(tree_copy, module, violation, contract):
    leak = tree_copy / module
    leak.write_text(violation)
    try:
        result = lint_imports(tree_copy)
    finally:
        leak.unlink()
    assert result.returncode == 1, result.stdout
    broken = [line for line in result.stdout.splitlines() if line.rstrip().endswith("BROKEN")]
    assert any(contract in line for line in broken) or contract in result.stdout.split("Broken contracts")[-1]


# --- dotted paths in url confs ------------------------------------------------------------------------------
# include("pkg.urls") and handler404 = "pkg.views.x" are imports Django makes at run time, which
# import-linter cannot see. Each such string is written into a copy of its url conf as the import it stands
# for, and the same contracts judge it.

DOTTED = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)+")


def dotted_modules(source: str, tree: Path) -> list[str]:
    """The project modules the dotted-path strings of a url conf name (for "pkg.mod.attr", pkg.mod)."""
    modules = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Constant) or not isinstance(node.value, str):
            continue
        if not DOTTED.fullmatch(node.value):
            continue
        parts = node.value.split(".")
        if parts[0] not in CONFIG["root_packages"]:
            continue  # a third-party app's url conf, or not a path at all
        for end in range(len(parts), 0, -1):
            path = tree.joinpath(*parts[:end])
            if path.with_suffix(".py").is_file() or (path / "__init__.py").is_file():
                modules.append(".".join(parts[:end]))
                break
    return modules


def url_confs(tree: Path) -> list[Path]:
    return sorted(p for package in CONFIG["root_packages"] for p in (tree / package).rglob("urls.py"))


def lint_with_url_conf_strings_as_imports(tree: Path) -> subprocess.CompletedProcess:
    originals = {conf: conf.read_text() for conf in url_confs(tree)}
    try:
        for conf, source in originals.items():
            imports = "".join(f"import {module}  # noqa\n" for module in dotted_modules(source, tree))
            conf.write_text(source + "\n" + imports)
        return lint_imports(tree)
    finally:
        for conf, source in originals.items():
            conf.write_text(source)


def test_url_confs_name_no_module_their_package_may_not_import(tree_copy):
    named = {m for conf in url_confs(tree_copy) for m in dotted_modules(conf.read_text(), tree_copy)}
    assert {"legacy_monolith.accounts.urls", "chassis.errors"} <= named  # the check sees real strings
    result = lint_with_url_conf_strings_as_imports(tree_copy)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("conf", "line", "contract"),
    [
        (
            "extracted/product_service/urls.py",
            'handler404 = "legacy_monolith.core.views.healthz"\n',
            "A service imports no monolith",
        ),
        (
            "extracted/order_service/urls.py",
            'urlpatterns += [path("x/", include("extracted.auth_service.urls"))]\n',
            "A service imports no other service",
        ),
        (
            "legacy_monolith/urls.py",
            'urlpatterns += [path("x/", include("extracted.product_service.urls"))]\n',
            "The monolith imports no service",
        ),
    ],
)
def test_a_dotted_path_across_a_boundary_in_a_url_conf_breaks_its_contract(tree_copy, conf, line, contract):
    path = tree_copy / conf
    source = path.read_text()
    path.write_text(source + line)
    try:
        result = lint_with_url_conf_strings_as_imports(tree_copy)
    finally:
        path.write_text(source)
    assert result.returncode == 1, result.stdout
    assert contract in result.stdout.split("Broken contracts")[-1]
