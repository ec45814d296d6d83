"""The `tenantry` command.

Every way a command can end is handled here, once: bad usage is one line on stderr and exit 2;
anything else that stops a command (a tenantry error, an unusable setting, file or database, an
unexpected exception) is one line and exit 1, never a traceback. `--debug` (or
`TENANTRY_DEBUG=1`) adds the traceback of an unexpected exception. No command prints personal
data.

The subcommands are listed by name in `COMMANDS` and imported only when the command line names
one (see `tenantry.cli.lazy`), so a command starts without loading every other one.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import traceback
from typing import Any

import typer
from typer._click.core import Command
from typer._click.exceptions import ClickException, NoArgsIsHelpError
from typer.core import TyperGroup

from tenantry import __version__
from tenantry.cli.failures import describe
from tenantry.cli.lazy import LazyCommands, load_target
from tenantry.domain.text import unstorable_text

__all__ = ["COMMANDS", "app", "build_command", "entrypoint", "main"]

app = typer.Typer(
    name="tenantry",
    help="GDPR-native multi-tenant data platform on PostgreSQL.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    # Plain Click help: paragraphs re-wrapped to the terminal, no type labels such as <bool>,
    # and square brackets shown as written (Rich markup would swallow "[redacted]").
    rich_markup_mode=None,
    add_completion=False,
)

# The subcommands, in the order `tenantry --help` lists them: a name and where its Typer app (a
# group) or function (a command) lives. A module is imported only when the command line names
# one of its commands (see `tenantry.cli.lazy`). A new command group is one line here.
COMMANDS: dict[str, str] = {
    "availability": "tenantry.cli.scheduling:availability",
    "seed": "tenantry.cli.seed:seed",
    "demo": "tenantry.cli.demo:demo",
    "serve": "tenantry.cli.serve:serve",
    "tenants": "tenantry.cli.tenants:app",
    "db": "tenantry.cli.db:app",
    "privacy": "tenantry.cli.privacy:privacy_app",
    "keys": "tenantry.cli.privacy:keys_app",
    "retention": "tenantry.cli.privacy:retention_app",
    "consent": "tenantry.cli.privacy:consent_app",
    "dsar": "tenantry.cli.privacy:dsar_app",
    "audit": "tenantry.cli.audit:app",
    "events": "tenantry.cli.events:app",
    "pipeline": "tenantry.cli.pipeline:app",
    "apikeys": "tenantry.cli.apikeys:app",
    "migrate": "tenantry.cli.migrate:app",
    "vc": "tenantry.cli.vc:app",
    "evidence": "tenantry.cli.evidence:app",
    "threads": "tenantry.cli.conversations:threads_app",
    "messages": "tenantry.cli.conversations:messages_app",
    "dashboard": "tenantry.cli.lists:dashboard_app",
    "leads": "tenantry.cli.lists:leads_app",
    "vehicles": "tenantry.cli.lists:vehicles_app",
    "resources": "tenantry.cli.scheduling:resources_app",
    "hours": "tenantry.cli.scheduling:hours_app",
    "locations": "tenantry.cli.locations:app",
    "payments": "tenantry.cli.payments:app",
    "customers": "tenantry.cli.customers:app",
    "invoices": "tenantry.cli.billing:invoices_app",
    "coupons": "tenantry.cli.billing:coupons_app",
    "experiments": "tenantry.cli.experiments:app",
    "partners": "tenantry.cli.partners:partners_app",
    "credits": "tenantry.cli.partners:credits_app",
    "assignments": "tenantry.cli.partners:assignments_app",
    "personalize": "tenantry.cli.personalize:personalize_user",
}

_debug = False


def _show_version(value: bool) -> None:
    if value:
        print(f"tenantry {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False,
        "--version",
        callback=_show_version,
        is_eager=True,
        help="Print the version and exit.",
    ),
    debug: bool = typer.Option(
        False, "--debug", help="On an unexpected error, also print the traceback."
    ),
) -> None:
    """GDPR-native multi-tenant data platform on PostgreSQL."""
    global _debug
    _debug = _debug or debug


def _short_help(command: Command) -> None:
    """A command's listing shows its first paragraph whole, on as many lines as it needs (Click
    would cut it short with '...'); so do its subcommands'."""
    if command.help and not command.short_help:
        command.short_help = " ".join(command.help.strip().split("\n\n")[0].split())
    if isinstance(command, TyperGroup):
        for sub in command.commands.values():
            _short_help(sub)


def build_command() -> Command:
    """The Click command tree of `tenantry`; the subcommands in `COMMANDS` are built when they
    are first looked up."""
    command = typer.main.get_command(app)
    assert isinstance(command, TyperGroup)
    for sub in command.commands.values():
        _short_help(sub)
    command.commands = LazyCommands(
        command.commands,
        COMMANDS,
        load=lambda name, target: load_target(app, name, target),
        prepare=_short_help,
    )
    return command


def _fail(message: str, code: int) -> int:
    print(f"tenantry: error: {message}", file=sys.stderr)
    return code


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code."""
    global _debug
    _debug = os.environ.get("TENANTRY_DEBUG", "").strip().lower() in ("1", "true", "yes", "on")
    # Bytes that are not UTF-8 reach Python as lone surrogates: no option could store or look
    # them up (the HTTP API refuses the same text in its guard).
    if any(unstorable_text(arg) for arg in (sys.argv[1:] if argv is None else argv)):
        return _fail("an argument is not valid text (bytes that are not UTF-8, or NUL)", 2)
    try:
        result: Any = build_command().main(args=argv, prog_name="tenantry", standalone_mode=False)
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        return _fail("aborted", 1)
    except NoArgsIsHelpError as exc:
        print(exc.format_message(), file=sys.stderr)
        return 2
    except ClickException as exc:
        # Typer words some checks as pydantic does; say it plainly.
        message = " ".join(exc.format_message().split()).replace("Value error, ", "")
        message = message.replace("Input should be", "must be")
        return _fail(message, exc.exit_code)
    except KeyboardInterrupt:
        return _fail("interrupted", 130)
    except Exception as exc:
        message = describe(exc)
        if _debug:
            traceback.print_exc()
        return _fail(message, 1)
    return result if isinstance(result, int) else 0


def entrypoint() -> None:
    code = main()
    # The threads of native libraries (DuckDB, the Delta Lake runtime) can abort the process
    # while the interpreter tears down ("terminate called without an active exception", exit
    # -6) after a command has done its work. Nothing is left to clean up once the output is
    # flushed, so the process ends here without that teardown.
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe: the reader has gone
            stream.flush()
    os._exit(code)
