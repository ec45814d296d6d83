"""The `tenantry` command.

Every way a command can end is handled here, once: bad usage is one line on stderr and exit 2;
anything else that stops a command (a tenantry error, an unusable setting, file or database, an
unexpected exception) is one line and exit 1, never a traceback. `--debug` (or
`TENANTRY_DEBUG=1`) adds the traceback of an unexpected exception. No command prints personal
data.
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
from tenantry.api.guard import unstorable_text
from tenantry.cli import apikeys as apikeys_cmd
from tenantry.cli import audit as audit_cmd
from tenantry.cli import billing as billing_cmd
from tenantry.cli import conversations as conversations_cmd
from tenantry.cli import customers as customers_cmd
from tenantry.cli import db as db_cmd
from tenantry.cli import demo as demo_cmd
from tenantry.cli import events as events_cmd
from tenantry.cli import evidence as evidence_cmd
from tenantry.cli import experiments as experiments_cmd
from tenantry.cli import lists as lists_cmd
from tenantry.cli import locations as locations_cmd
from tenantry.cli import migrate as migrate_cmd
from tenantry.cli import payments as payments_cmd
from tenantry.cli import personalize as personalize_cmd
from tenantry.cli import pipeline as pipeline_cmd
from tenantry.cli import privacy as privacy_cmd
from tenantry.cli import scheduling as scheduling_cmd
from tenantry.cli import seed as seed_cmd
from tenantry.cli import serve as serve_cmd
from tenantry.cli import tenants as tenants_cmd
from tenantry.cli import vc as vc_cmd
from tenantry.cli.failures import describe

__all__ = ["app", "build_command", "entrypoint", "main"]

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
app.add_typer(tenants_cmd.app, name="tenants")
app.add_typer(db_cmd.app, name="db")
app.add_typer(privacy_cmd.privacy_app, name="privacy")
app.add_typer(privacy_cmd.keys_app, name="keys")
app.add_typer(privacy_cmd.retention_app, name="retention")
app.add_typer(privacy_cmd.consent_app, name="consent")
app.add_typer(privacy_cmd.dsar_app, name="dsar")
app.add_typer(audit_cmd.app, name="audit")
app.add_typer(events_cmd.app, name="events")
app.add_typer(pipeline_cmd.app, name="pipeline")
app.add_typer(apikeys_cmd.app, name="apikeys")
app.add_typer(migrate_cmd.app, name="migrate")
app.add_typer(vc_cmd.app, name="vc")
app.add_typer(evidence_cmd.app, name="evidence")
app.add_typer(conversations_cmd.threads_app, name="threads")
app.add_typer(conversations_cmd.messages_app, name="messages")
app.add_typer(lists_cmd.dashboard_app, name="dashboard")
app.add_typer(lists_cmd.leads_app, name="leads")
app.add_typer(lists_cmd.vehicles_app, name="vehicles")
app.add_typer(scheduling_cmd.resources_app, name="resources")
app.add_typer(scheduling_cmd.hours_app, name="hours")
app.command("availability")(scheduling_cmd.availability)
app.add_typer(locations_cmd.app, name="locations")
app.add_typer(payments_cmd.app, name="payments")
app.add_typer(customers_cmd.app, name="customers")
customers_cmd.app.command("search")(lists_cmd.search_customers_command)
app.command("seed")(seed_cmd.seed)
app.command("demo")(demo_cmd.demo)
app.command("serve")(serve_cmd.serve)
app.add_typer(billing_cmd.invoices_app, name="invoices")
app.add_typer(billing_cmd.coupons_app, name="coupons")
app.add_typer(experiments_cmd.app, name="experiments")
experiments_cmd.app.command("decide")(personalize_cmd.decide)
app.command("personalize")(personalize_cmd.personalize_user)

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
    """Each subcommand's listing shows its first paragraph whole, on as many lines as it needs
    (Click would cut it short with '...')."""
    if isinstance(command, TyperGroup):
        for sub in command.commands.values():
            if sub.help and not sub.short_help:
                sub.short_help = " ".join(sub.help.strip().split("\n\n")[0].split())
            _short_help(sub)


def build_command() -> Command:
    """The Click command tree of `tenantry`."""
    command = typer.main.get_command(app)
    _short_help(command)
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
