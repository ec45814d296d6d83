"""The dependency between packages runs one way: a package imports only packages of a lower
layer or its own; services know no web framework, and the API commits no writes. Imports are read from the source with `ast` (lazy imports inside functions
and `TYPE_CHECKING` blocks count too), so a cycle cannot hide behind a deferred import."""

from __future__ import annotations

import ast
import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import pytest

import tenantry
import tenantry.services

ROOT = Path(tenantry.__file__).parent

# Lowest first. Key and sealing code (`privacy`) sits above the database adapter (`db`), which
# receives its sealer from the composition root; workflows live in `services`.
LAYERS: list[set[str]] = [
    {"errors", "clock", "ids", "config", "cache", "fastpath", "__init__"},
    {"models", "domain", "lake"},
    {"db"},
    {"privacy", "repositories", "audit", "pipeline"},
    {"events", "seed"},
    {"services", "migrate", "insight", "conversations", "scheduling", "payments", "decisions"},
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


API = Path(tenantry.services.__file__).parent.parent / "api"


def test_no_service_module_imports_fastapi_or_typer() -> None:
    modules = [
        f"tenantry.services.{m.name}" for m in pkgutil.iter_modules(tenantry.services.__path__)
    ]
    code = (
        "import sys\n"
        + "".join(f"import {m}\n" for m in modules)
        + "print(' '.join(n for n in ('fastapi', 'starlette', 'typer') if n in sys.modules))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert loaded == []


def test_the_api_commits_no_write_itself() -> None:
    """Writes commit in the service layer (`services.idempotency`); the API only renders.

    The one COMMIT left is `Ctx.read`'s, which ends a read-only transaction (psycopg keeps its
    prepared statements over a COMMIT, not over a ROLLBACK).
    """
    commits = {
        str(path.relative_to(API)): len(re.findall(r"\.commit\(\)", path.read_text()))
        for path in API.rglob("*.py")
    }
    assert {name: n for name, n in commits.items() if n} == {"deps.py": 1}
