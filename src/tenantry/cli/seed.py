"""`tenantry seed`: generate a realistic dataset and load it with COPY."""

from __future__ import annotations

from datetime import UTC, datetime

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from tenantry.config import get_settings
from tenantry.db.migrate import upgrade
from tenantry.db.provider import ensure_database
from tenantry.errors import ValidationError
from tenantry.privacy.master import master_key_provider
from tenantry.seed.generator import SCALES
from tenantry.seed.loader import derive_tenants, load


def parse_anchor(anchor: str | None) -> int | None:
    if anchor is None:
        return None
    try:
        day = datetime.strptime(anchor, "%Y-%m-%d").replace(hour=12, tzinfo=UTC)
    except ValueError as exc:
        raise ValidationError("--anchor must be a date like 2026-01-31") from exc
    return int(day.timestamp())


def seed(
    tenants: int = typer.Option(3, min=1, max=1_000_000, help="Number of tenants."),
    scale: str = typer.Option("small", help="Rows per tenant: small | medium | large."),
    seed_value: int = typer.Option(1, "--seed", help="Random seed; same seed, same data."),
    anchor: str | None = typer.Option(
        None, help="'Now' of the dataset as YYYY-MM-DD (default: now); fixes it for reruns."
    ),
    workers: int = typer.Option(1, min=1, max=16, help="Generator processes beside the loader."),
) -> None:
    """Generate tenants with locations, customers, vehicles, leads, bookings and payments.

    Tenants that already exist for this seed are skipped, so a rerun adds nothing twice.
    """
    if scale not in SCALES:
        raise ValidationError(f"--scale must be one of {', '.join(SCALES)}")
    anchor_s = parse_anchor(anchor)
    target = ensure_database(get_settings())
    upgrade(target)
    console = Console(stderr=True)
    with Progress(
        TextColumn("[bold]seeding"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("tenants"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as bar:
        task = bar.add_task("seed", total=tenants)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        stats = load(
            target.libpq(target.owner_url),
            derive_tenants(tenants, seed_value),
            master=master_key_provider(get_settings()),
            scale=scale,
            seed=seed_value,
            anchor_s=anchor_s,
            progress=progress,
            workers=workers,
        )
    console.print(
        f"loaded {stats.tenants} tenants ({stats.skipped_tenants} already present), "
        f"{stats.total_rows:,} rows in {stats.seconds:.1f}s ({stats.rows_per_second:,.0f} rows/s)"
    )
