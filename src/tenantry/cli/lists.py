"""Dashboards and lists for operators: `tenantry dashboard leads|bookings`, `tenantry leads
hot`, `tenantry vehicles tuv-due` and `tenantry customers search`.

Entry point only: the figures and lists come from `tenantry.services.dashboard` and
`tenantry.services.customer_search`, run as the tenant's owner (its permissions checked as for
the API). The commands are plain functions, grouped here in Typer apps that `tenantry.cli.main`
registers; `search_customers_command` joins the `customers` group in `tenantry.cli.customers`.
Nothing printed holds personal data in the clear: lists show ids and business fields, and a
found customer's name, e-mail and phone are masked.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import typer

from tenantry.cli import lead_models, partners
from tenantry.cli.common import database, resolve_tenant
from tenantry.cli.output import print_json, show, table
from tenantry.cli.params import OutputFormat, format_option, location_ref, tenant_option
from tenantry.db.engine import Database
from tenantry.errors import ValidationError
from tenantry.insight.checks import find_location
from tenantry.models.enums import MembershipRole
from tenantry.privacy.crypto import normalise_email, normalise_phone
from tenantry.services import dashboard as svc
from tenantry.services.customer_search import PHONE_PATTERN, PLATE_PATTERN, search_customers
from tenantry.services.principal import Principal

__all__ = [
    "booking_dashboard_command",
    "dashboard_app",
    "hot_prospects_command",
    "lead_dashboard_command",
    "leads_app",
    "search_customers_command",
    "tuv_due_command",
    "vehicles_app",
]

dashboard_app = typer.Typer(help="Dashboards of a tenant (seed 002).", no_args_is_help=True)
leads_app = typer.Typer(help="A tenant's leads.", no_args_is_help=True)
vehicles_app = typer.Typer(help="A tenant's vehicles (workshops).", no_args_is_help=True)

_JSON = typer.Option(False, "--json", help="Same as --format json.")
_LIMIT = typer.Option(50, "--limit", min=1, max=200, help="At most this many rows (1..200).")


def _principal(tenant_id: uuid.UUID) -> Principal:
    return Principal(tenant_id=tenant_id, role=MembershipRole.OWNER)


def _as_json(fmt: OutputFormat, as_json: bool) -> bool:
    return as_json or fmt is OutputFormat.JSON


def _location_id(db: Database, tenant_id: uuid.UUID, ref: str | None) -> uuid.UUID | None:
    if ref is None:
        return None
    with db.tenant_uow(tenant_id) as uow:
        return find_location(uow, _principal(tenant_id), ref).id


def _figures(title: str, figures: dict[str, Any]) -> None:
    out = table("figure", "value", title=title, right=("value",))
    for name, value in figures.items():
        out.add_row(name, "-" if value is None else str(value))
    show(out)


# -- dashboards -------------------------------------------------------------------------------


@dashboard_app.command("leads")
def lead_dashboard_command(
    tenant: str = tenant_option(),
    location: str | None = typer.Option(
        None, "--location", parser=location_ref, help="Only this location (UUID or slug)."
    ),
    fmt: OutputFormat = format_option(),
    as_json: bool = _JSON,
) -> None:
    """The lead dashboard: today's leads (the tenant's day), converted, average qualified
    score, open, total and the conversion rate."""
    with database(migrate=False) as db:
        tenant_id = resolve_tenant(db, tenant)
        location_id = _location_id(db, tenant_id, location)
        with db.tenant_uow(tenant_id) as uow:
            d = svc.lead_dashboard(uow, _principal(tenant_id), location_id=location_id)
            zone = uow.repos.tenants.current().timezone
            since = svc.start_of_day(uow.clock.now(), zone)
    figures: dict[str, Any] = {
        "since": since.isoformat(),
        "timezone": zone,
        "today_leads": d.today_leads,
        "converted_leads": d.converted_leads,
        "avg_qualified_score": None
        if d.avg_qualified_score is None
        else round(d.avg_qualified_score, 2),
        "open_leads": d.open_leads,
        "total_leads": d.total_leads,
        "conversion_rate": None if d.conversion_rate is None else round(d.conversion_rate, 4),
    }
    if _as_json(fmt, as_json):
        print_json(figures)
    else:
        _figures("Lead dashboard", figures)


@dashboard_app.command("bookings")
def booking_dashboard_command(
    tenant: str = tenant_option(),
    days_back: int = typer.Option(
        30, "--days-back", min=0, max=svc.MAX_KPI_DAYS, help="Days before today (0..366)."
    ),
    days_ahead: int = typer.Option(
        30, "--days-ahead", min=0, max=svc.MAX_KPI_DAYS, help="Days after today (0..366)."
    ),
    fmt: OutputFormat = format_option(),
    as_json: bool = _JSON,
) -> None:
    """Booking KPIs per location: bookings, fulfilled, cancelled, no-shows, booked and
    collected money, for bookings starting in the days around today."""
    with database(migrate=False) as db:
        tenant_id = resolve_tenant(db, tenant)
        with db.tenant_uow(tenant_id) as uow:
            rows = svc.booking_kpis(
                uow, _principal(tenant_id), days_back=days_back, days_ahead=days_ahead
            )
    if _as_json(fmt, as_json):
        print_json([{**vars(k), "no_show_rate": round(k.no_show_rate, 4)} for k in rows])
        return
    out = table(
        "location", "bookings", "fulfilled", "cancelled", "no-shows", "booked", "collected",
        title=f"Bookings from {days_back} days back to {days_ahead} days ahead",
        right=("bookings", "fulfilled", "cancelled", "no-shows", "booked", "collected"),
    )  # fmt: skip
    for k in rows:
        out.add_row(
            k.location_name, str(k.bookings), str(k.fulfilled), str(k.cancelled),
            str(k.no_shows), f"{k.booked_cents / 100:.2f}", f"{k.collected_cents / 100:.2f}",
        )  # fmt: skip
    show(out)


# -- lists ------------------------------------------------------------------------------------


@leads_app.command("hot")
def hot_prospects_command(
    tenant: str = tenant_option(),
    min_score: int = typer.Option(
        svc.HOT_SCORE, "--min-score", min=svc.HOT_SCORE, max=100, help="70..100 (default 70)."
    ),
    limit: int = _LIMIT,
    fmt: OutputFormat = format_option(),
    as_json: bool = _JSON,
) -> None:
    """Hot prospects: open leads scoring 70 or more, best first (score, then the newest)."""
    with database(migrate=False) as db:
        tenant_id = resolve_tenant(db, tenant)
        with db.tenant_uow(tenant_id) as uow:
            rows = svc.hot_prospects(uow, _principal(tenant_id), min_score=min_score, limit=limit)
    if _as_json(fmt, as_json):
        print_json([vars(r) for r in rows])
        return
    out = table("lead", "score", "status", "source", "interest", "created", title="Hot prospects")
    for r in rows:
        out.add_row(
            str(r.id),
            str(r.score),
            r.status,
            r.source,
            r.interest or "-",
            f"{r.created_at:%Y-%m-%d %H:%M}",
        )
    show(out)


@vehicles_app.command("tuv-due")
def tuv_due_command(
    tenant: str = tenant_option(),
    days: int = typer.Option(
        30, "--days", min=1, max=svc.MAX_TUV_DAYS, help="Due within this many days (1..730)."
    ),
    limit: int = _LIMIT,
    fmt: OutputFormat = format_option(),
    as_json: bool = _JSON,
) -> None:
    """Vehicles whose TÜV is due within --days days, overdue ones included, earliest first."""
    with database(migrate=False) as db:
        tenant_id = resolve_tenant(db, tenant)
        with db.tenant_uow(tenant_id) as uow:
            day, rows = svc.tuv_due(uow, _principal(tenant_id), days=days, limit=limit)
    listed = [{**vars(r), "days_left": (r.tuv_due_on - day).days} for r in rows]
    if _as_json(fmt, as_json):
        print_json(listed)
        return
    out = table(
        "vehicle", "customer", "make", "model", "due", "days left",
        title=f"TÜV due within {days} days (as of {day.isoformat()})", right=("days left",),
    )  # fmt: skip
    for v in listed:
        out.add_row(
            str(v["id"]), str(v["customer_id"]), v["make"], v["model"],
            v["tuv_due_on"].isoformat(), str(v["days_left"]),
        )  # fmt: skip
    show(out)


# -- customer search --------------------------------------------------------------------------


def _email(value: str) -> str:
    try:
        return normalise_email(value)
    except ValidationError:
        raise typer.BadParameter("must be an e-mail address") from None


def _phone(value: str) -> str:
    try:
        if re.fullmatch(PHONE_PATTERN, value):
            normalise_phone(value)
            return value
    except ValidationError:
        pass
    raise typer.BadParameter("must be a phone number, such as +49 30 1234567")


def _plate(value: str) -> str:
    if re.fullmatch(PLATE_PATTERN, value):
        return value
    raise typer.BadParameter("must be a licence plate (letters, digits, blanks and hyphens)")


def _mask(value: str | None, keep: int = 1) -> str:
    if not value:
        return "-"
    return value[:keep] + "***"


def _mask_email(value: str | None) -> str:
    if not value:
        return "-"
    local, _, domain = value.partition("@")
    return f"{_mask(local)}@{_mask(domain)}"


def _mask_phone(value: str | None) -> str:
    return "-" if not value else "***" + value[-2:]


def search_customers_command(
    tenant: str = tenant_option(),
    email: str | None = typer.Option(None, "--email", parser=_email, help="An e-mail address."),
    phone: str | None = typer.Option(None, "--phone", parser=_phone, help="A phone number."),
    plate: str | None = typer.Option(None, "--plate", parser=_plate, help="A licence plate."),
    limit: int = _LIMIT,
    fmt: OutputFormat = format_option(),
    as_json: bool = _JSON,
) -> None:
    """Find customers by e-mail, phone or licence plate (exactly one), through blind indexes;
    personal fields are shown masked."""
    if sum(v is not None for v in (email, phone, plate)) != 1:
        raise typer.BadParameter("give exactly one of --email, --phone or --plate")
    with database(migrate=False) as db:
        tenant_id = resolve_tenant(db, tenant)
        with db.tenant_uow(tenant_id) as uow:
            found = search_customers(
                uow, _principal(tenant_id), email=email, phone=phone, plate=plate, limit=limit
            )
            rows: list[dict[str, str | None]] = [
                {
                    "id": str(c.id),
                    "home_location_id": str(c.home_location_id) if c.home_location_id else None,
                    "created_at": c.created_at.isoformat(),
                    "country": c.country,
                    "name": _mask(c.last_name),
                    "email": _mask_email(c.email),
                    "phone": _mask_phone(c.phone),
                }
                for c in found
            ]
    if _as_json(fmt, as_json):
        print_json(rows)
        return
    out = table("customer", "home location", "name", "email", "phone", title="Customers found")
    for r in rows:
        out.add_row(r["id"], r["home_location_id"] or "-", r["name"], r["email"], r["phone"])
    show(out)


# The lead model, rescoring and partner routing are commands of `tenantry leads` too.
leads_app.add_typer(lead_models.model_app, name="model")
leads_app.command("rescore")(lead_models.rescore_command)
leads_app.command("route")(partners.route)
