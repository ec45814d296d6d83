"""With the libraries this project pins, every fast path is on: a fallback is for a changed
library, never the normal case (it would quietly cost the API its speed)."""

from __future__ import annotations

import subprocess
import sys


def test_every_fast_path_is_on_with_the_installed_libraries() -> None:
    code = (
        "import logging, sys\n"
        "logging.basicConfig(stream=sys.stdout, level=logging.WARNING)\n"
        "from tenantry.api.compiled import COMPILED\n"
        "from tenantry.db.pipelined import PIPELINED\n"
        "from tenantry.db.engine import STATEMENT_CACHE, _cache_long_statements\n"
        "_cache_long_statements()\n"
        "print([(p.name, p.reason) for p in (COMPILED, PIPELINED, STATEMENT_CACHE) if not p.on])\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
