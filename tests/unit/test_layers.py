"""The layers' directions: services know no web framework, the API commits no writes."""

from __future__ import annotations

import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import tenantry.services

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
