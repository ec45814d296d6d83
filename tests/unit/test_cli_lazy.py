"""`tenantry` imports a command's module only when the command line names it.

Every start of `tenantry` used to import every command module (FastAPI, PDF fonts, the
migration tool...), a couple of seconds whatever it ran; these tests keep it from creeping back
and check that loading on demand changes nothing a user sees.
"""

from __future__ import annotations

import json
import subprocess
import sys

from typer.core import TyperGroup

from tenantry.cli.lazy import LazyCommands
from tenantry.cli.main import COMMANDS, build_command

# Run in a fresh interpreter: which modules one command line imports.
_PROBE = """
import contextlib, io, json, sys
from tenantry.cli.main import main
with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
    code = main(sys.argv[1:])
print(json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""


def _imported(*args: str) -> tuple[int, set[str]]:
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE, *args], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    return result["code"], set(result["modules"])


def test_a_command_imports_its_own_module_and_not_the_others() -> None:
    code, modules = _imported("db", "url", "--help")
    assert code == 0
    cli_modules = {m for m in modules if m.startswith("tenantry.cli.")}
    assert "tenantry.cli.db" in cli_modules
    assert not cli_modules & {"tenantry.cli.billing", "tenantry.cli.demo", "tenantry.cli.serve"}
    assert not {"fastapi", "fpdf", "tenantry.api.resources.billing"} & modules


def test_an_unknown_command_is_suggested_without_loading_any_group() -> None:
    code, modules = _imported("tenantz")
    assert code == 2
    loaded = {m for m in modules if m.startswith("tenantry.cli.")}
    assert loaded <= {
        "tenantry.cli",
        "tenantry.cli.main",
        "tenantry.cli.lazy",
        "tenantry.cli.failures",
    }


def test_every_registered_name_loads_as_the_command_it_names() -> None:
    root = build_command()
    assert isinstance(root, TyperGroup)
    assert list(root.list_commands(None)) == list(COMMANDS)  # type: ignore[arg-type]
    for name in COMMANDS:
        command = root.commands[name]
        assert command.name == name
        assert command.help, name  # each lists a one-line help in `tenantry --help`
        assert command.short_help == " ".join(command.help.split("\n\n")[0].split())


def test_lazy_commands_keep_their_order_and_load_each_target_once() -> None:
    loads: list[str] = []
    prepared: list[str] = []

    def load(name: str, target: str) -> TyperGroup:
        loads.append(target)
        return TyperGroup(name=name)

    commands = LazyCommands(
        {"first": TyperGroup(name="first")},
        {"second": "m:second", "third": "m:third"},
        load=load,
        prepare=lambda c: prepared.append(str(c.name)),
    )
    assert list(commands) == ["first", "second", "third"] and len(commands) == 3
    assert loads == []
    assert "third" in commands and "fourth" not in commands
    assert commands["third"].name == "third"
    assert commands["third"] is commands.get("third")
    assert commands.get("fourth") is None
    assert list(commands) == ["first", "second", "third"]  # loading does not reorder
    assert loads == ["m:third"] and prepared == ["third"]
    commands["fourth"] = TyperGroup(name="fourth")
    del commands["second"]
    assert list(commands) == ["first", "third", "fourth"]
    assert loads == ["m:third"]
