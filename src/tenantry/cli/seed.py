"""`tenantry seed`: generate a realistic dataset and load it with COPY."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from enum import StrEnum

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from tenantry.cli.params import anchor_date
from tenantry.config import get_settings
from tenantry.db.migrate import upgrade
from tenantry.db.provider import ensure_database
from tenantry.privacy.master import master_key_provider
from tenantry.seed.loader import derive_tenants, load


class ScaleName(StrEnum):
    """The sizes of `tenantry.seed.generator.SCALES` (a test keeps the two in step)."""

    SMALL = "small"
    MEDIUM = "medium"
    LARGE = "large"


def anchor_seconds(day: date | None) -> int | None:
    """Noon UTC of the anchor day, as the generator's 'now' in epoch seconds."""
    if day is None:
        return None
    return int(datetime.combine(day, time(12), tzinfo=UTC).timestamp())


def seed(
    tenants: int = typer.Option(3, min=1, max=1_000_000, help="Number of tenants."),
    scale: ScaleName = typer.Option(ScaleName.SMALL, help="Rows per tenant."),
    seed_value: int = typer.Option(
        1, "--seed", min=0, max=2**63 - 1, help="Random seed; same seed, same data."
    ),
    anchor: date | None = typer.Option(
        None,
        parser=anchor_date,
        metavar="YYYY-MM-DD",
        help="'Now' of the dataset (default: now); fixes it for reruns.",
    ),
    workers: int = typer.Option(1, min=1, max=16, help="Generator processes beside the loader."),
) -> None:
    """Generate tenants with locations, customers, vehicles, leads, bookings and payments.

    Tenants that already exist for this seed are skipped, so a rerun adds nothing twice.
    """
    anchor_s = anchor_seconds(anchor)
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
            scale=scale.value,
            seed=seed_value,
            anchor_s=anchor_s,
            progress=progress,
            workers=workers,
        )
    console.print(
        f"loaded {stats.tenants} tenants ({stats.skipped_tenants} already present), "
        f"{stats.total_rows:,} rows in {stats.seconds:.1f}s ({stats.rows_per_second:,.0f} rows/s)"
    )
