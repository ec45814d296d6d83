"""The dependency between packages runs one way: a package imports only packages of a lower
layer or its own. Imports are read from the source with `ast` (lazy imports inside functions
and `TYPE_CHECKING` blocks count too), so a cycle cannot hide behind a deferred import."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import tenantry

ROOT = Path(tenantry.__file__).parent

# Lowest first. Key and sealing code (`privacy`) sits above the database adapter (`db`), which
# receives its sealer from the composition root; workflows live in `services`.
LAYERS: list[set[str]] = [
    {"errors", "clock", "ids", "config", "__init__"},
    {"models", "domain", "lake"},
    {"db"},
    {"privacy", "repositories", "audit", "pipeline"},
    {"events", "seed"},
    {"services"},
    {"composition", "demo"},
    {"api", "cli", "__main__"},
]
RANK = {package: rank for rank, packages in enumerate(LAYERS) for package in packages}
# `UnitOfWork.repos` builds the repositories on first use; they are a view over the unit of
# work, not a dependency of the transaction logic.
KNOWN = {("db/uow.py", "repositories")}


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        else:
            continue
        found |= {n.split(".")[1] for n in names if n.startswith("tenantry.")}
    return found


MODULES = sorted(p for p in ROOT.rglob("*.py") if "migrations" not in p.parts)


def test_every_package_has_a_layer() -> None:
    packages = {p.relative_to(ROOT).parts[0].removesuffix(".py") for p in MODULES}
    assert packages <= set(RANK), packages - set(RANK)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_a_module_imports_only_lower_layers(path: Path) -> None:
    name = str(path.relative_to(ROOT))
    own = path.relative_to(ROOT).parts[0].removesuffix(".py")
    upward = {
        package
        for package in _imports(path)
        if RANK.get(package, 0) > RANK[own] and (name, package) not in KNOWN
    }
    assert not upward, f"{name} imports {sorted(upward)} from a higher layer"


def test_the_database_adapter_never_imports_the_privacy_code() -> None:
    offenders = [
        str(p.relative_to(ROOT))
        for p in (ROOT / "db").rglob("*.py")
        if {"privacy", "services", "composition"} & _imports(p)
    ]
    assert offenders == []
