"""`tenantry demo`: seed three tenants, run sample flows, print a readable summary."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from tenantry.cli.common import console, database
from tenantry.cli.output import show
from tenantry.config import get_settings
from tenantry.demo.decisions import show_decisions
from tenantry.demo.pipeline import show_pipeline
from tenantry.demo.scenario import DemoSummary, run_demo
from tenantry.models.enums import BookingStatus, LeadStatus
from tenantry.privacy.master import master_key_provider


def _eur(cents: int) -> str:
    return f"{cents / 100:,.2f} €"


def render(summary: DemoSummary, console: Console) -> None:
    stats = summary.load
    if stats.tenants:
        console.print(
            f"Seeded {stats.tenants} tenants: {stats.total_rows:,} rows in "
            f"{stats.seconds:.1f}s ({stats.rows_per_second:,.0f} rows/s, COPY)"
        )
    else:
        console.print("Demo tenants already present: database reused, nothing seeded again.")

    t = Table(title="Tenants")
    for col in ("tenant", "vertical", "locations", "customers", "leads", "bookings", "collected"):
        t.add_column(col, justify="left" if col in ("tenant", "vertical") else "right")
    for f in summary.tenants:
        t.add_row(
            f.name,
            f.vertical,
            str(f.locations),
            f"{f.customers:,}",
            f"{sum(f.leads_by_status.values()):,}",
            f"{sum(f.bookings_by_status.values()):,}",
            _eur(f.collected_cents),
        )
    show(t, out=console)

    t = Table(title="Leads by status")
    t.add_column("tenant")
    for ls in LeadStatus:
        t.add_column(ls.value, justify="right")
    for f in summary.tenants:
        t.add_row(f.name, *(f"{f.leads_by_status.get(ls.value, 0):,}" for ls in LeadStatus))
    show(t, out=console)

    t = Table(title="Bookings by state")
    t.add_column("tenant")
    for bs in BookingStatus:
        t.add_column(bs.value, justify="right")
    for f in summary.tenants:
        t.add_row(f.name, *(f"{f.bookings_by_status.get(bs.value, 0):,}" for bs in BookingStatus))
    show(t, out=console)

    t = Table(title="Lead dashboard (seed 002) through tenantry_app under RLS")
    for col in (
        "tenant",
        "today's leads",
        "converted",
        "avg qualified score",
        "open",
        "conversion",
    ):
        t.add_column(col, justify="left" if col == "tenant" else "right")
    for f in summary.tenants:
        d = f.dashboard
        t.add_row(
            f.name,
            str(d.today_leads),
            f"{d.converted_leads:,}",
            f"{d.avg_qualified_score:.1f}" if d.avg_qualified_score is not None else "-",
            f"{d.open_leads:,}",
            f"{d.conversion_rate:.0%}" if d.conversion_rate else "-",
        )
    if summary.scoped_dashboard:
        name, d = summary.scoped_dashboard
        t.add_row(
            f"  manager scoped to {name}",
            str(d.today_leads),
            f"{d.converted_leads:,}",
            f"{d.avg_qualified_score:.1f}" if d.avg_qualified_score is not None else "-",
            f"{d.open_leads:,}",
            f"{d.conversion_rate:.0%}" if d.conversion_rate else "-",
        )
    show(t, out=console)

    t = Table(title="Booking KPIs per location (bookings from 30 days ago to 30 days ahead)")
    for col in (
        "tenant",
        "location",
        "bookings",
        "fulfilled",
        "cancelled",
        "no-show rate",
        "booked",
        "collected",
    ):
        t.add_column(col, justify="left" if col in ("tenant", "location") else "right")
    for f in summary.tenants:
        for k in f.kpis:
            t.add_row(
                f.name,
                k.location_name,
                str(k.bookings),
                str(k.fulfilled),
                str(k.cancelled),
                f"{k.no_show_rate:.0%}",
                _eur(k.booked_cents),
                _eur(k.collected_cents),
            )
    show(t, out=console)

    t = Table(title="Sample flows (services, as the tenant owner)")
    t.add_column("flow")
    t.add_column("result")
    t.add_column("this run")
    for fl in summary.flows:
        t.add_row(fl.name, fl.outcome, "ran" if fl.fresh else "already done")
    show(t, out=console)

    if summary.privacy is not None:
        p = summary.privacy
        t = Table(title="Privacy kernel (Hibachi Heroes Catering)")
        t.add_column("step")
        t.add_column("result")
        for purpose, verdict in p.consent:
            t.add_row(f"consent check: {purpose}", verdict)
        if p.export:
            t.add_row("access export (GDPR Art. 15)", p.export)
        for what, count in p.erasure:
            t.add_row(f"erasure: {what}", count)
        for note in p.notes:
            t.add_row("note", note)
        show(t, out=console)

    t = Table(title="Row level security: tenants visible to tenantry_app")
    t.add_column("transaction bound to")
    t.add_column("tenants visible in crm.leads", justify="right")
    for who, n in summary.isolation.items():
        t.add_row(who, str(n))
    show(t, out=console)


def demo() -> None:
    """Seed three demo tenants (idempotent), run sample flows and print a summary.

    Then build the analytics lake from a few weeks of events and print the star schema, and
    show the decision services (lead scoring, partner routing, an experiment, personalize).
    """
    settings = get_settings()
    with database() as db:
        summary = run_demo(
            db,
            db.target.libpq(db.target.owner_url),
            master=master_key_provider(settings),
            home=settings.home,
        )
    render(summary, console())
    show_pipeline(console(), settings)
    with database() as db:
        show_decisions(console(), settings, db, routed=summary.routed)
