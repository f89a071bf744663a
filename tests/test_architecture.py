"""The dependency rules of ARCHITECTURE.md, as import-linter contracts in pyproject.toml: they hold on the
tree, and a deliberate violation is caught (so the check cannot pass by checking nothing)."""

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
