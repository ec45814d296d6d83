"""`tenantry` run inside the test process: the `main()` a subprocess would run, in the same
environment, its output and exit code returned as `subprocess.run` returns them.

A subprocess start costs about a second of imports before the command does anything; tests that
check what a command prints or how it fails call it here instead. What only a real process
shows (the exit status the shell sees, signals, stdin, `serve`) stays with a subprocess: each
command group keeps at least one such test.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from io import StringIO

from tenantry.cli.main import main

__all__ = ["call", "in_process", "the_environment"]


@contextmanager
def the_environment(env: Mapping[str, str]) -> Iterator[None]:
    """`os.environ` equal to `env` for the block (only the variables that differ are touched)."""
    saved = dict(os.environ)
    try:
        for key in [k for k in os.environ if k not in env]:
            del os.environ[key]
        for key, value in env.items():
            if os.environ.get(key) != value:
                os.environ[key] = value
        yield
    finally:
        for key in [k for k in os.environ if k not in saved]:
            del os.environ[key]
        for key, value in saved.items():
            if os.environ.get(key) != value:
                os.environ[key] = value


def in_process(env: Mapping[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """`tenantry *args` with the environment `env`, as `subprocess.run(..., text=True)` reports
    it: the exit code `main()` returns, and what it wrote to stdout and stderr."""
    out, err = StringIO(), StringIO()
    with the_environment(env), redirect_stdout(out), redirect_stderr(err):
        code = main(list(args))
    return subprocess.CompletedProcess(["tenantry", *args], code, out.getvalue(), err.getvalue())


def call(env: Mapping[str, str], *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    """`in_process`, checking the command succeeded unless `ok=False` (as `tests.e2e.test_cli`'s
    `run` does for a subprocess)."""
    proc = in_process(env, *args)
    if ok:
        assert proc.returncode == 0, proc.stderr
    return proc
