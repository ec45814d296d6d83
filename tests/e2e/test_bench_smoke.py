"""Every benchmark of `make bench` still runs: each one, at `BENCH_SCALE=tiny`, as `python -m
bench` runs it, in a fresh benchmark home, and writes result files with measured figures.

The benchmarks come from the runner's registry (`bench.__main__.BENCHMARKS`), so a new one is
covered as soon as `make bench` runs it, and every module of `bench/` must be in the registry.
The run uses an embedded server in a temporary home (the benchmarks create and drop databases
of their own), whatever `TENANTRY_DATABASE_URL` says.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import bench.__main__ as runner
import pytest
from bench.common import Result
from rich.console import Console

from tenantry.config import Settings
from tenantry.db.provider import stop_embedded

ROOT = Path(runner.__file__).resolve().parent.parent


def _bench(home: Path, results: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TENANTRY_", "BENCH_"))}
    env |= {
        "TENANTRY_BENCH_HOME": str(home),
        "BENCH_SCALE": "tiny",
        "BENCH_RESULTS": str(results),
        "COLUMNS": "300",
        **extra,
    }
    return subprocess.run(
        [sys.executable, "-m", "bench"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


@dataclass
class TinyRun:
    proc: subprocess.CompletedProcess[str]
    wrote: dict[str, list[Path]]  # benchmark -> the result files it wrote


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> TinyRun:
    """One `python -m bench` of every benchmark (one interpreter, one server start)."""
    home = tmp_path_factory.mktemp("bench-home")
    results = tmp_path_factory.mktemp("bench-results")
    try:
        proc = _bench(home, results)
    finally:
        stop_embedded(Settings(home=home))
    wrote: dict[str, list[Path]] = {}
    current = None
    for line in proc.stdout.splitlines():
        if line.startswith("running "):
            current = line.split()[1]
            wrote[current] = []
        elif line.strip().startswith("wrote ") and current is not None:
            wrote[current].append(Path(line.strip().removeprefix("wrote ")))
    return TinyRun(proc, wrote)


@pytest.mark.parametrize("name", list(runner.BENCHMARKS))
def test_benchmark_runs_at_tiny_scale_and_writes_measured_figures(
    name: str, tiny_run: TinyRun
) -> None:
    assert name in tiny_run.wrote, tiny_run.proc.stdout[-2000:] + tiny_run.proc.stderr[-3000:]
    files = tiny_run.wrote[name]
    assert files, f"{name} wrote no result:\n{tiny_run.proc.stderr[-3000:]}"
    for path in files:
        data = json.loads(path.read_text())
        assert data["name"] == path.stem
        assert data["scale"] == "tiny"
        assert data["value"] > 0, data
        assert data["baseline_value"] > 0, data
        assert data["ratio"] > 0, data


def test_the_tiny_run_of_every_benchmark_succeeds(tiny_run: TinyRun) -> None:
    assert tiny_run.proc.returncode == 0, tiny_run.proc.stderr[-3000:]
    assert "FAILED" not in tiny_run.proc.stdout


def test_every_bench_module_is_in_the_registry() -> None:
    registered = {fn.__module__ for fn in runner.BENCHMARKS.values()}
    plumbing = {"bench.__init__", "bench.__main__", "bench.common"}
    modules = {f"bench.{p.stem}" for p in (ROOT / "bench").glob("*.py")} - plumbing
    assert modules - registered == set()


def _fine(_target: object) -> list[Result]:
    return [Result("fine_rate", 2.0, "x/s", "nothing", 1.0, 2.0, "any")]


def _broken(_target: object) -> Result:
    raise RuntimeError("the dataset is gone\nsecond line")


def test_a_failing_benchmark_is_a_row_of_the_table_and_the_others_still_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BENCH_RESULTS", str(tmp_path))
    monkeypatch.delenv("BENCH_ONLY", raising=False)
    monkeypatch.setattr(runner, "BENCHMARKS", {"broken": _broken, "fine": _fine})
    monkeypatch.setattr(runner, "server", lambda: None)
    out = io.StringIO()
    monkeypatch.setattr(runner, "Console", lambda: Console(file=out, width=200))

    assert runner.main() == 1

    assert json.loads((tmp_path / "fine_rate.json").read_text())["value"] == 2.0
    printed = out.getvalue()
    assert "fine_rate" in printed
    assert "broken" in printed and "FAILED" in printed
    assert "RuntimeError: the dataset is gone" in printed


def test_an_unknown_benchmark_name_is_a_usage_error(tmp_path: Path) -> None:
    proc = _bench(tmp_path, tmp_path, BENCH_ONLY="no_such_benchmark")
    assert proc.returncode == 2
    assert "unknown benchmark no_such_benchmark" in proc.stderr
    assert "Traceback" not in proc.stderr
