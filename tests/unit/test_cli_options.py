"""Every option of every `tenantry` command checks its value while the command line is read.

The command tree is walked, so a command or option added later is covered without a new test:
an id, a tenant, a choice, a number or a date given as garbage is a usage error (exit 2) naming
that option, before anything opens a database. An option taking free text must be listed here,
so a new one is a decision rather than an accident.
"""

from __future__ import annotations

import enum
import io
import uuid
from collections.abc import Iterator
from contextlib import redirect_stderr, redirect_stdout
from datetime import date
from pathlib import Path

import pytest
from typer._click.core import Command, Context
from typer._click.exceptions import BadParameter, UsageError
from typer.core import TyperArgument, TyperGroup, TyperOption

from tenantry.cli import main as cli_main
from tenantry.cli.main import build_command, main
from tenantry.cli.seed import ScaleName
from tenantry.seed.generator import SCALES

# Options whose value is free text by nature (checked by the command, if at all).
FREE_TEXT = {
    ("db upgrade", "revision"),
    ("db downgrade", "revision"),
    ("serve", "host"),
    ("apikeys create", "name"),
    ("retention hold", "reason"),
    ("privacy scan", "email"),
    ("consent status", "email"),
    ("dsar export", "email"),
    ("dsar erase", "email"),
    # a path or "-" for stdout; checked by the command (.zip, folder exists)
    ("dsar export", "out"),
    ("dsar open", "out"),
    # a legacy source's own primary key value, as text (checked against the id map)
    ("migrate unmerge", "key"),
    # the anonymous visibility-check flow: a visitor's own words, and the opt-in token
    ("vc request", "business_name"),
    ("vc request", "email"),
    ("vc request", "city"),
    ("vc request", "notice_version"),
    ("vc confirm", "notice_version"),
    ("vc confirm", "token"),
    # a resource's label (a bay number, a role or first name)
    ("resources add", "name"),
    # a label for listings of webhook secrets
    ("payments stripe-secret set", "label"),
    # why a credit note or refund was made (at most 200 characters, checked by the command)
    ("invoices credit", "reason"),
    ("payments refund", "reason"),
    # an experiment's name (at most 200 characters, checked by the service)
    ("experiments create", "name"),
}
# Options that name an id or a tenant by their name; each must refuse garbage.
ID_NAMES = {"tenant", "row", "target", "hold_id", "location", "key_id"}
GARBAGE = "not an id!"


def _leaves(command: Command, path: str = "") -> Iterator[tuple[str, Command]]:
    if isinstance(command, TyperGroup):
        for name, sub in sorted(command.commands.items()):
            yield from _leaves(sub, f"{path} {name}".strip())
    else:
        yield path, command


LEAVES = list(_leaves(build_command()))


def _params() -> Iterator[tuple[str, Command, TyperOption | TyperArgument]]:
    for path, command in LEAVES:
        for param in command.params:
            if isinstance(param, TyperOption) and (param.is_flag or param.name == "help"):
                continue
            assert isinstance(param, TyperOption | TyperArgument)
            yield path, command, param


PARAMS = list(_params())


def _garbage(path: str, param: TyperOption | TyperArgument) -> list[str]:
    """Values each option of its kind must refuse."""
    annotation = param.type_descriptor.annotation
    if param.name == "tenant":
        return [GARBAGE, "Upper-Case-Slug", "x" * 70]
    if param.name in ID_NAMES or annotation is uuid.UUID:
        return [GARBAGE, "0190a5c2-7d4e"]
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return ["no-such-choice"]
    if annotation in (int, float):
        assert param.min is not None and param.max is not None, f"{path} --{param.name}: range"
        return [str(param.min - 1), str(param.max + 1), "many"]
    if annotation is date:
        return ["notadate", "1900-01-01", "2999-01-01"]
    if param.type_descriptor.parameter_info.parser is not None:  # a checked name, e.g. a table
        return [GARBAGE]
    if annotation is Path:
        return ["/no/such/file.jsonl"] if path == "events ingest" else []
    assert (path, param.name) in FREE_TEXT, f"{path} --{param.name} takes unchecked text"
    return []


def _args(param: TyperOption | TyperArgument, value: str) -> list[str]:
    return [value] if isinstance(param, TyperArgument) else [param.opts[0], value]


CASES = [
    pytest.param(path, command, param, value, id=f"{path} {param.name}={value}")
    for path, command, param in PARAMS
    for value in _garbage(path, param)
]


def test_the_walk_finds_the_commands_and_their_checked_options() -> None:
    paths = {path for path, _ in LEAVES}
    assert {"tenants list", "audit log", "pipeline run", "apikeys create", "serve"} <= paths
    assert len(CASES) > 40


@pytest.mark.parametrize(("path", "command", "param", "value"), CASES)
def test_garbage_in_an_option_is_a_usage_error_naming_it(
    path: str, command: Command, param: TyperOption | TyperArgument, value: str
) -> None:
    with pytest.raises(UsageError) as caught:
        # Parsing only: the command's body never runs, whatever the outcome.
        command.make_context(path, _args(param, value), parent=Context(build_command()))
    assert caught.value.exit_code == 2
    assert isinstance(caught.value, BadParameter)
    assert caught.value.param is not None and caught.value.param.name == param.name


@pytest.mark.parametrize(
    "args",
    [
        ["privacy", "catalog", "--format", "yaml"],
        ["apikeys", "create", "--tenant", "x", "--role", "superuser"],
        ["seed", "--scale", "huge"],
        ["serve", "--port", "99999"],
        ["pipeline", "run", "--as-of", "notadate"],
        ["pipeline", "run", "--as-of", "1900-01-01"],
        ["audit", "log", "--tenant", "x", "--row", "not-a-uuid"],
        ["tenants", "list", "--format", "xml"],
    ],
)
def test_bad_usage_exits_2_with_one_line(
    args: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Were the value accepted, the command would fail on this home instead (exit 1).
    (tmp_path / "home").write_text("")
    monkeypatch.setenv("TENANTRY_HOME", str(tmp_path / "home"))
    err = io.StringIO()
    with redirect_stderr(err), redirect_stdout(io.StringIO()):
        code = main(args)
    assert code == 2
    lines = err.getvalue().strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tenantry: error: Invalid value for"), lines
    assert "Value error" not in lines[0]


def test_the_scale_choices_are_the_generators_scales() -> None:
    assert {s.value for s in ScaleName} == set(SCALES)


def test_an_unexpected_error_is_one_line_naming_only_its_type(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class Exploding:
        def main(self, *args: object, **kwargs: object) -> object:
            raise KeyError("customer jane.doe@example.com")

    monkeypatch.setattr(cli_main, "build_command", Exploding)
    monkeypatch.delenv("TENANTRY_DEBUG", raising=False)
    err = io.StringIO()
    with redirect_stderr(err):
        code = main(["anything"])
    assert code == 1
    assert err.getvalue() == (
        "tenantry: error: internal error (KeyError); run with --debug for the traceback\n"
    )
    monkeypatch.setenv("TENANTRY_DEBUG", "1")
    err = io.StringIO()
    with redirect_stderr(err):
        assert main(["anything"]) == 1
    assert "Traceback" in err.getvalue()
    assert err.getvalue().splitlines()[-1].startswith("tenantry: error: internal error")


def test_help_texts_have_no_flag_type_labels_and_keep_square_brackets() -> None:
    for path, _command in LEAVES:
        out = io.StringIO()
        with redirect_stdout(out), redirect_stderr(io.StringIO()):
            assert main([*path.split(), "--help"]) == 0
        text = out.getvalue()
        assert "<bool>" not in text, path
    out = io.StringIO()
    with redirect_stdout(out):
        main(["audit", "--help"])
    assert "[redacted]" in " ".join(out.getvalue().split())


def test_version_prints_the_package_version() -> None:
    from tenantry import __version__

    out = io.StringIO()
    with redirect_stdout(out):
        assert main(["--version"]) == 0
    assert out.getvalue() == f"tenantry {__version__}\n"
