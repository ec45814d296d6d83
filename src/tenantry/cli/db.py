"""`tenantry db ...`: the configured database: URL, migrations, status, embedded server stop."""

from __future__ import annotations

import typer
from rich.console import Console

from tenantry.config import get_settings
from tenantry.db.migrate import current_revision, downgrade, head_revision, upgrade
from tenantry.db.provider import ensure_database, stop_embedded, uri
from tenantry.errors import ValidationError

app = typer.Typer(help="The configured database.", no_args_is_help=True)


@app.command("url")
def url(
    app_role: bool = typer.Option(False, "--app", help="Print the application role's URL."),
) -> None:
    """Print the owner connection URL (a postgresql:// URI, usable with psql and psycopg)."""
    target = ensure_database(get_settings())
    print(uri(target.app_url if app_role else target.owner_url))


@app.command("upgrade")
def upgrade_cmd(
    revision: str = typer.Option("head", metavar="REV", help="Target revision."),
) -> None:
    """Apply migrations up to a revision (default: head). Idempotent."""
    target = ensure_database(get_settings())
    upgrade(target, revision)
    Console(stderr=True).print(f"database at revision {current_revision(target)}")


@app.command("downgrade")
def downgrade_cmd(
    revision: str = typer.Option(
        ..., metavar="REV", help="Target revision, or 'base' to remove everything."
    ),
    yes: bool = typer.Option(False, "--yes", help="Confirm: this drops tables and their data."),
) -> None:
    """Revert migrations down to a revision. Destroys data of the removed tables."""
    if not yes:
        raise ValidationError("downgrade destroys data; pass --yes to confirm")
    target = ensure_database(get_settings())
    downgrade(target, revision)
    Console(stderr=True).print(f"database at revision {current_revision(target) or 'base'}")


@app.command("status")
def status() -> None:
    """Show which server is configured and whether migrations are at head."""
    settings = get_settings()
    target = ensure_database(settings)
    current, head = current_revision(target), head_revision()
    kind = f"embedded ({settings.pgdata})" if target.embedded else "external"
    print(f"server:   {kind}")
    print(f"revision: {current or 'none'} (head {head})")
    if current != head:
        raise typer.Exit(1)


@app.command("stop")
def stop() -> None:
    """Stop the embedded PostgreSQL server (it keeps running between commands)."""
    stopped = stop_embedded(get_settings())
    print("stopped" if stopped else "not running")
