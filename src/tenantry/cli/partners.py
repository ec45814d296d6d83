"""`tenantry partners set|list|show|report`, `tenantry credits buy|refund|balance|history|expire`,
`tenantry assignments list|accept|decline|rate|convert` and `tenantry leads route`.

Commands act as the tenant's owner through the use cases the API uses (`tenantry.decisions`).
A partner is named by its location (UUID or slug). Credits are whole numbers; a purchase is a
lot that expires after `--valid-days`. `leads route --dry-run` shows the assignment without
writing it.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import typer

from tenantry.cli.common import database, resolve_tenant
from tenantry.cli.locations import operator
from tenantry.cli.output import print_json, show, table
from tenantry.cli.params import OutputFormat, format_option, location_ref, tenant_option, uuid_value
from tenantry.db.uow import UnitOfWork
from tenantry.decisions import credits, partners, routing
from tenantry.models.partners import AssignmentStatus, CapacityPeriod, CreditEntry, Partner
from tenantry.scheduling.hours import find_location
from tenantry.services.principal import Principal

__all__ = ["assignments_app", "credits_app", "partners_app", "route"]

partners_app = typer.Typer(help="Partners: locations that accept leads.", no_args_is_help=True)
credits_app = typer.Typer(
    help="Partner credits: buy, refund, balance, expiry.", no_args_is_help=True
)
assignments_app = typer.Typer(
    help="Leads offered to partners and their answers.", no_args_is_help=True
)

_JSON = typer.Option(False, "--json", help="Same as --format json.")
_LOCATION = typer.Argument(..., parser=location_ref, help="The partner's location (UUID or slug).")
_CATEGORY = re.compile(r"[a-z0-9][a-z0-9 _-]{0,59}")


def category_value(value: str) -> str:
    """A category a partner serves: lower-case letters, digits, space, _ or -; 60 at most."""
    clean = value.strip().lower()
    if not _CATEGORY.fullmatch(clean):
        raise typer.BadParameter("must be a category such as catering or tyre-service")
    return clean


def _as_json(fmt: OutputFormat, as_json: bool) -> bool:
    return as_json or fmt is OutputFormat.JSON


def _partner_json(p: Partner) -> dict[str, Any]:
    return {
        "location_id": str(p.location_id),
        "accepts_leads": p.accepts_leads,
        "paused": p.paused,
        "categories": list(p.categories),
        "radius_km": float(p.radius_km),
        "capacity": p.capacity,
        "capacity_period": str(p.capacity_period),
        "price_credits": p.price_credits,
    }


def _entry_json(e: CreditEntry) -> dict[str, Any]:
    return {
        "id": str(e.id),
        "kind": str(e.kind),
        "amount": e.amount,
        "balance_after": e.balance_after,
        "lot_id": str(e.lot_id),
        "assignment_id": str(e.assignment_id) if e.assignment_id else None,
        "actor": e.actor,
        "created_at": e.created_at.isoformat() if e.created_at else None,
    }


@contextmanager
def _as_operator(tenant: str) -> Iterator[tuple[UnitOfWork, Principal]]:
    """The tenant's unit of work and the tenant's operator, whom every command acts as (a
    command commits what it writes)."""
    with database() as db:
        tenant_id = resolve_tenant(db, tenant)
        with db.tenant_uow(tenant_id, actor="cli") as uow:
            yield uow, operator(tenant_id)


# -- partners ----------------------------------------------------------------------------


@partners_app.command("set")
def set_(
    location: str = _LOCATION,
    tenant: str = tenant_option(),
    radius_km: float | None = typer.Option(
        None, "--radius-km", min=0.1, max=1000, help="Leads farther away are not offered."
    ),
    capacity: int | None = typer.Option(
        None, "--capacity", min=0, max=100_000, help="Leads per period at most."
    ),
    period: CapacityPeriod | None = typer.Option(None, "--period", help="week or month."),
    price: int | None = typer.Option(None, "--price", min=1, max=100_000, help="Credits per lead."),
    category: list[str] | None = typer.Option(
        None, "--category", parser=category_value, help="A category served (repeat; none: all)."
    ),
    accepts: bool | None = typer.Option(
        None, "--accepts/--no-accepts", help="Whether the location takes leads at all."
    ),
    paused: bool | None = typer.Option(None, "--pause/--resume", help="Stop or resume offers."),
) -> None:
    """Make a location a partner, or change the settings given."""
    with _as_operator(tenant) as (uow, principal):
        location_id = find_location(uow, principal, location)
        partner, created = partners.set_partner(
            uow,
            principal,
            location_id,
            radius_km=radius_km,
            capacity=capacity,
            capacity_period=period,
            price_credits=price,
            categories=category or None,
            accepts_leads=accepts,
            paused=paused,
        )
        out = _partner_json(partner)
        uow.commit()
    print(f"{'created' if created else 'updated'} partner at location {out['location_id']}")


@partners_app.command("list")
def list_(
    tenant: str = tenant_option(), fmt: OutputFormat = format_option(), as_json: bool = _JSON
) -> None:
    """The tenant's partners."""
    with _as_operator(tenant) as (uow, principal):
        rows = [_partner_json(p) for p in partners.list_partners(uow, principal)]
    if _as_json(fmt, as_json):
        print_json(rows)
        return
    t = table("location", "categories", "radius", "capacity", "price", "state", right=("price",))
    for r in rows:
        state = "paused" if r["paused"] else ("active" if r["accepts_leads"] else "off")
        t.add_row(
            r["location_id"],
            ", ".join(r["categories"]) or "all",
            f"{r['radius_km']:g} km",
            f"{r['capacity']}/{r['capacity_period']}",
            str(r["price_credits"]),
            state,
        )
    show(t)


@partners_app.command("show")
def show_(location: str = _LOCATION, tenant: str = tenant_option(), as_json: bool = _JSON) -> None:
    """A partner's settings and credit balance."""
    with _as_operator(tenant) as (uow, principal):
        partner = _partner(uow, principal, location)
        bal = credits.balance_of(uow, partner, uow.clock.now())
        out = {**_partner_json(partner), "balance": bal.balance, "spendable": bal.spendable}
    if as_json:
        print_json(out)
        return
    for key, value in out.items():
        print(f"{key}: {value}")


@partners_app.command("report")
def report(
    tenant: str = tenant_option(), fmt: OutputFormat = format_option(), as_json: bool = _JSON
) -> None:
    """Per partner: offers, acceptance and conversion, credits spent, lead quality (seed 000)."""
    with _as_operator(tenant) as (uow, principal):
        rows = partners.report(uow, principal)
    if _as_json(fmt, as_json):
        print_json([r.as_json() for r in rows])
        return
    cols = ("location", "offered", "accepted", "declined", "accept %", "convert %", "spent")
    t = table(*cols, "rating", "quality", right=cols[1:])

    def pct(v: float | None) -> str:
        return "-" if v is None else f"{v:.0%}"

    for r in rows:
        quality = pct(r.quality_score) + (" (below 70 %)" if r.below_target else "")
        t.add_row(
            str(r.location_id),
            str(r.offered),
            str(r.accepted),
            str(r.declined),
            pct(r.acceptance_rate),
            pct(r.conversion_rate),
            str(r.credits_spent),
            "-" if r.mean_rating is None else f"{r.mean_rating:.2f}",
            quality,
        )
    show(t)


# -- credits -----------------------------------------------------------------------------


def _partner(uow: UnitOfWork, principal: Principal, location: str) -> Partner:
    return partners.get_partner(uow, principal, find_location(uow, principal, location))


@credits_app.command("buy")
def buy(
    location: str = _LOCATION,
    tenant: str = tenant_option(),
    amount: int = typer.Option(..., "--amount", min=1, max=credits.MAX_PURCHASE, help="Credits."),
    valid_days: int = typer.Option(
        credits.DEFAULT_VALID_DAYS, "--valid-days", min=1, max=3660, help="Days until they expire."
    ),
) -> None:
    """Buy credits for a partner (a lot that expires after --valid-days)."""
    with _as_operator(tenant) as (uow, principal):
        entry = partners.buy_credits(
            uow,
            principal,
            find_location(uow, principal, location),
            amount,
            valid_days=valid_days,
        )
        after = entry.balance_after
        uow.commit()
    print(f"bought {amount} credits; balance {after}")


@credits_app.command("refund")
def refund(
    location: str = _LOCATION,
    tenant: str = tenant_option(),
    assignment: uuid.UUID = typer.Option(
        ..., "--assignment", parser=uuid_value, help="The assignment whose credits come back."
    ),
    amount: int | None = typer.Option(
        None, "--amount", min=1, max=credits.MAX_PURCHASE, help="Default: all it consumed."
    ),
) -> None:
    """Give back credits an assignment consumed (all, or --amount of them)."""
    with _as_operator(tenant) as (uow, principal):
        entries = partners.refund_credits(
            uow, principal, find_location(uow, principal, location), assignment, amount
        )
        back, after = sum(e.amount for e in entries), entries[-1].balance_after
        uow.commit()
    print(f"refunded {back} credits; balance {after}")


@credits_app.command("balance")
def balance(
    location: str = _LOCATION, tenant: str = tenant_option(), as_json: bool = _JSON
) -> None:
    """A partner's credit balance (and what of it is spendable now)."""
    with _as_operator(tenant) as (uow, principal):
        bal = credits.balance_of(uow, _partner(uow, principal, location), uow.clock.now())
    out = {"location_id": str(bal.location_id), "balance": bal.balance, "spendable": bal.spendable}
    if as_json:
        print_json(out)
    else:
        print(f"balance {bal.balance} (spendable {bal.spendable})")


@credits_app.command("history")
def history(
    location: str = _LOCATION,
    tenant: str = tenant_option(),
    limit: int = typer.Option(100, "--limit", min=1, max=10_000, help="At most this many."),
    fmt: OutputFormat = format_option(),
    as_json: bool = _JSON,
) -> None:
    """A partner's credit ledger, newest first."""
    with _as_operator(tenant) as (uow, principal):
        rows = [
            _entry_json(e) for e in credits.history(uow, _partner(uow, principal, location), limit)
        ]
    if _as_json(fmt, as_json):
        print_json(rows)
        return
    t = table("when", "kind", "amount", "balance", "assignment", right=("amount", "balance"))
    for r in rows:
        t.add_row(
            r["created_at"],
            r["kind"],
            str(r["amount"]),
            str(r["balance_after"]),
            r["assignment_id"] or "-",
        )
    show(t)


@credits_app.command("expire")
def expire(tenant: str = tenant_option(), as_json: bool = _JSON) -> None:
    """Write off the unspent remainder of every lot past its expiry."""
    with _as_operator(tenant) as (uow, principal):
        done = credits.expire_due(uow, uow.clock.now(), principal.actor)
        uow.commit()
    if as_json:
        print_json({str(k): v for k, v in done.items()})
    else:
        print(f"expired {sum(done.values())} credits of {len(done)} partner(s)")


# -- assignments -------------------------------------------------------------------------


@assignments_app.command("list")
def list_assignments(
    tenant: str = tenant_option(),
    status: AssignmentStatus | None = typer.Option(None, "--status", help="Only this status."),
    location: str | None = typer.Option(
        None, "--location", parser=location_ref, help="Only this partner's (UUID or slug)."
    ),
    limit: int = typer.Option(100, "--limit", min=1, max=500, help="At most this many."),
    fmt: OutputFormat = format_option(),
    as_json: bool = _JSON,
) -> None:
    """Leads offered to partners, oldest first."""
    with _as_operator(tenant) as (uow, principal):
        location_id = find_location(uow, principal, location) if location else None
        rows = [
            {
                "id": str(a.id),
                "lead_id": str(a.lead_id) if a.lead_id else None,
                "location_id": str(loc),
                "status": str(a.status),
                "distance_km": float(a.distance_km),
                "price_credits": a.price_credits,
                "rating": a.rating,
                "offered_at": a.offered_at.isoformat(),
            }
            for a, loc in partners.list_assignments(
                uow, principal, status=status, location_id=location_id, limit=limit
            )
        ]
    if _as_json(fmt, as_json):
        print_json(rows)
        return
    t = table("assignment", "lead", "location", "status", "km", "rating", right=("km",))
    for r in rows:
        rating = "-" if r["rating"] is None else str(r["rating"])
        t.add_row(
            str(r["id"]),
            str(r["lead_id"]),
            str(r["location_id"]),
            str(r["status"]),
            f"{r['distance_km']:.1f}",
            rating,
        )
    show(t)


def _answer(
    tenant: str, assignment: uuid.UUID, target: AssignmentStatus, reason: str | None = None
) -> None:
    with _as_operator(tenant) as (uow, principal):
        a = partners.answer(uow, principal, assignment, target, reason=reason)
        status = str(a.status)
        uow.commit()
    print(f"assignment {assignment} is {status}")


_ASSIGNMENT = typer.Argument(..., parser=uuid_value, help="The assignment's id.")


@assignments_app.command("accept")
def accept(assignment: uuid.UUID = _ASSIGNMENT, tenant: str = tenant_option()) -> None:
    """Accept an offered lead."""
    _answer(tenant, assignment, AssignmentStatus.ACCEPTED)


@assignments_app.command("decline")
def decline(
    assignment: uuid.UUID = _ASSIGNMENT,
    tenant: str = tenant_option(),
    reason: partners.DeclineReason | None = typer.Option(None, "--reason", help="A reason code."),
) -> None:
    """Decline an offered lead: its credits come back and other partners may get it."""
    _answer(tenant, assignment, AssignmentStatus.DECLINED, reason.value if reason else None)


@assignments_app.command("convert")
def convert(
    assignment: uuid.UUID = _ASSIGNMENT,
    tenant: str = tenant_option(),
    lost: bool = typer.Option(False, "--lost", help="The accepted lead was lost instead."),
) -> None:
    """Record that an accepted lead converted (or, with --lost, was lost)."""
    _answer(tenant, assignment, AssignmentStatus.LOST if lost else AssignmentStatus.CONVERTED)


@assignments_app.command("rate")
def rate(
    assignment: uuid.UUID = _ASSIGNMENT,
    tenant: str = tenant_option(),
    rating: int = typer.Option(..., "--rating", min=1, max=5, help="Lead quality, 1 to 5."),
    reason: partners.RatingReason | None = typer.Option(None, "--reason", help="A reason code."),
) -> None:
    """Rate the quality of a lead (seed 000: 4 or 5 is a good lead)."""
    with _as_operator(tenant) as (uow, principal):
        code = reason.value if reason else None
        partners.rate(uow, principal, assignment, rating, code)
        uow.commit()
    print(f"assignment {assignment} rated {rating}")


# -- routing (registered as `tenantry leads route`) --------------------------------------------


def route(
    tenant: str = tenant_option(),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show the assignment; write nothing."),
    as_json: bool = _JSON,
) -> None:
    """Offer the open leads to partners: one minimum-cost assignment over all of them."""
    with _as_operator(tenant) as (uow, principal):
        result = routing.route_leads(uow, principal, dry_run=dry_run)
        if not dry_run:
            uow.commit()
    if as_json:
        print_json(result.as_json())
        return
    verb = "would assign" if dry_run else "assigned"
    print(f"{verb} {len(result.routed)} lead(s); {len(result.stranded)} stay open")
    if result.routed:
        t = table("lead", "location", "km", "credits", right=("km", "credits"))
        for r in result.routed:
            t.add_row(
                str(r.lead_id), str(r.location_id), f"{r.distance_km:.1f}", str(r.price_credits)
            )
        show(t)
    if result.stranded:
        t = table("lead", "why it stays open")
        for s in result.stranded:
            t.add_row(str(s.lead_id), s.message)
        show(t)
