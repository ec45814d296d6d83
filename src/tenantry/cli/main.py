"""The `tenantry` command.

Errors end as one line on stderr and a non-zero exit: 1 for a tenantry error, 2 for bad usage.
No command prints personal data.
"""

from __future__ import annotations

import sys

import typer

from tenantry.cli import apikeys as apikeys_cmd
from tenantry.cli import audit as audit_cmd
from tenantry.cli import db as db_cmd
from tenantry.cli import demo as demo_cmd
from tenantry.cli import events as events_cmd
from tenantry.cli import pipeline as pipeline_cmd
from tenantry.cli import privacy as privacy_cmd
from tenantry.cli import seed as seed_cmd
from tenantry.cli import serve as serve_cmd
from tenantry.errors import TenantryError

__all__ = ["app", "main"]

app = typer.Typer(
    name="tenantry",
    help="GDPR-native multi-tenant data platform on PostgreSQL.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
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
app.command("seed")(seed_cmd.seed)
app.command("demo")(demo_cmd.demo)
app.command("serve")(serve_cmd.serve)


def _fail(message: str, code: int) -> int:
    print(f"tenantry: error: {message}", file=sys.stderr)
    return code


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code."""
    try:
        result = app(args=argv, standalone_mode=False)
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        return _fail("aborted", 1)
    except typer.TyperException as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":
            print(exc.format_message(), file=sys.stderr)
            return 2
        return _fail(" ".join(exc.format_message().split()), exc.exit_code)
    except TenantryError as exc:
        return _fail(exc.message, 1)
    except KeyboardInterrupt:
        return _fail("interrupted", 130)
    return result if isinstance(result, int) else 0


def entrypoint() -> None:
    sys.exit(main())
