"""`tenantry payments import` and `tenantry payments review list|show|match|reassign|reject`.

`import` reads provider e-mails (`.eml`, a Maildir, a folder) and bank statements (CAMT.053,
MT940), verifies their origin, and records them through the same use case as the webhook and
the mailbox watch (`tenantry.payments.intake`). With `--json` it prints one JSON line per
notification: `file`, `status` (matched | needs_review | rejected | duplicate), `booking_id`,
`score`, `reasons` and more. `--dry-run` decides everything and writes nothing. Payer names
and memos are personal data: the review commands mask them unless `--reveal` is given.
"""

from __future__ import annotations

import json
import sys
import uuid
from collections import Counter
from decimal import Decimal
from pathlib import Path

import typer

from tenantry.cli import billing, payments_wire
from tenantry.cli.common import database, resolve_tenant
from tenantry.cli.output import console, print_json, show, table
from tenantry.cli.params import OutputFormat, format_option, money, tenant_option, uuid_value
from tenantry.config import get_settings
from tenantry.errors import ValidationError
from tenantry.models import PaymentNotification
from tenantry.models.enums import MatchStatus, MembershipRole
from tenantry.payments import review as svc
from tenantry.payments.importer import import_notices
from tenantry.payments.intake import Outcome
from tenantry.payments.matching import Policy
from tenantry.payments.sources import parse_workers, read_path
from tenantry.payments.sources.money import minor_units
from tenantry.payments.trust import DkimVerifier
from tenantry.services.principal import Principal

__all__ = ["app", "review_app"]

app = typer.Typer(
    help="Payments: provider notifications, bank statements, the review queue.",
    no_args_is_help=True,
)
review_app = typer.Typer(help="The review queue of payment notifications.", no_args_is_help=True)
app.add_typer(review_app, name="review")
app.add_typer(payments_wire.stripe_secret_app, name="stripe-secret")
app.command("watch")(payments_wire.watch)
app.command("refund")(billing.refund)

MASK = "***"


def existing_path(value: str) -> Path:
    """A file or folder that exists."""
    path = Path(value)
    if not path.exists():
        raise typer.BadParameter("no such file or folder")
    return path


def _owner(tenant_id: uuid.UUID) -> Principal:
    return Principal(tenant_id=tenant_id, role=MembershipRole.OWNER)


@app.command("import")
def import_command(
    path: Path = typer.Argument(
        ..., parser=existing_path, help="An .eml file, a Maildir, a folder, CAMT.053 or MT940."
    ),
    tenant: str = tenant_option(),
    as_json: bool = typer.Option(False, "--json", help="One JSON line per notification."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Decide everything, write nothing."),
    threshold: float | None = typer.Option(
        None, "--threshold", min=0.5, max=1.0, help="Least score to match without review."
    ),
    margin: float | None = typer.Option(
        None, "--margin", min=0.0, max=20.0, help="Least lead over the runner-up (log-odds)."
    ),
) -> None:
    """Import payment notifications and bank statements, match them to bookings."""
    settings = get_settings()
    policy = Policy.from_settings(settings, threshold=threshold, margin=margin)
    verifier = DkimVerifier.from_settings(settings)
    counts: Counter[str] = Counter()
    shown: list[Outcome] = []
    with database() as db:
        tenant_id = resolve_tenant(db, tenant)
        outcomes = import_notices(
            db,
            tenant_id,
            read_path(path, verifier=verifier, workers=parse_workers()),
            policy=policy,
            dry_run=dry_run,
            actor="cli:payments-import",
        )
        for outcome in outcomes:
            counts[outcome.status] += 1
            if as_json:
                sys.stdout.write(json.dumps(outcome.as_json(), ensure_ascii=False) + "\n")
                sys.stdout.flush()
            else:
                shown.append(outcome)
    if not as_json:
        t = table("file", "status", "booking", "score", "why", right=("score",))
        for o in shown:
            why = o.reasons[-1] if o.reasons else ""
            score = "-" if o.score is None else f"{o.score:.3f}"
            t.add_row(o.origin or "-", o.status, str(o.booking_id or "-"), score, why)
        show(t)
    summary = ", ".join(f"{counts[k]} {k}" for k in sorted(counts)) or "nothing found"
    console(stderr=True).print(f"{'would record' if dry_run else 'recorded'}: {summary}")


def _shown(value: str | None, reveal: bool) -> str | None:
    if value is None:
        return None
    return value if reveal else MASK


def _row(note: PaymentNotification, reveal: bool) -> dict[str, object]:
    return {
        "id": str(note.id),
        "received_at": note.received_at.isoformat(),
        "source": str(note.source),
        "provider": note.provider,
        "amount_cents": note.amount_cents,
        "currency": note.currency,
        "status": str(note.match_status),
        "trust": str(note.trust),
        "payer_name": _shown(note.sender_name, reveal),
        "memo": _shown(note.memo, reveal),
        "booking_id": str(note.matched_booking_id) if note.matched_booking_id else None,
        "score": float(note.match_confidence) if note.match_confidence is not None else None,
        "runner_up": (
            float(note.runner_up_confidence) if note.runner_up_confidence is not None else None
        ),
    }


_REVEAL = typer.Option(False, "--reveal", help="Show payer names and memos (personal data).")


@review_app.command("list")
def review_list(
    tenant: str = tenant_option(),
    status: MatchStatus | None = typer.Option(
        MatchStatus.NEEDS_REVIEW, "--status", help="needs_review (default), matched, rejected."
    ),
    limit: int = typer.Option(50, "--limit", min=1, max=500, help="How many (1..500)."),
    reveal: bool = _REVEAL,
    fmt: OutputFormat = format_option(),
) -> None:
    """List payment notifications, newest first (default: those waiting for review)."""
    with database() as db:
        tenant_id = resolve_tenant(db, tenant)
        with db.tenant_uow(tenant_id) as uow:
            rows, _more = svc.list_notifications(uow, _owner(tenant_id), status=status, limit=limit)
            items = [_row(r, reveal) for r in rows]
    if fmt is OutputFormat.JSON:
        print_json({"notifications": items})
        return
    t = table(
        "id", "received", "provider", "amount", "status", "trust", "payer", "booking", "score"
    )
    for r in items:
        amount = _written(int(str(r["amount_cents"])), str(r["currency"]))
        t.add_row(
            str(r["id"]),
            str(r["received_at"])[:19],
            str(r["provider"]),
            amount,
            str(r["status"]),
            str(r["trust"]),
            str(r["payer_name"] or "-"),
            str(r["booking_id"] or "-"),
            "-" if r["score"] is None else f"{r['score']:.3f}",
        )
    show(t)


@review_app.command("show")
def review_show(
    notification_id: uuid.UUID = typer.Argument(..., parser=uuid_value, help="The notification."),
    tenant: str = tenant_option(),
    reveal: bool = _REVEAL,
    fmt: OutputFormat = format_option(),
) -> None:
    """Show a notification with the matcher's candidates and every decision on it."""
    with database() as db:
        tenant_id = resolve_tenant(db, tenant)
        with db.tenant_uow(tenant_id) as uow:
            note = svc.get_notification(uow, _owner(tenant_id), notification_id)
            decisions = svc.decisions_of(uow, note.id)
            data = {
                **_row(note, reveal),
                "reasons": note.reasons,
                "candidates": svc.candidates_of(decisions),
                "decisions": [
                    {
                        "action": str(d.action),
                        "booking_id": str(d.booking_id) if d.booking_id else None,
                        "decided_by": d.decided_by,
                        "decided_at": d.decided_at.isoformat(),
                    }
                    for d in decisions
                ],
            }
    if fmt is OutputFormat.JSON:
        print_json(data)
        return
    t = table("field", "value")
    for key in ("id", "provider", "amount_cents", "currency", "status", "trust", "payer_name"):
        t.add_row(key, str(data[key]))
    for reason in note.reasons:
        t.add_row("reason", f"{reason.get('feature')}: {reason.get('detail')}")
    for c in data["candidates"]:  # type: ignore[attr-defined]
        t.add_row("candidate", f"{c['booking_id']} ({c['score']:.3f})")
    for d in data["decisions"]:  # type: ignore[attr-defined]
        t.add_row("decision", f"{d['decided_at'][:19]} {d['action']} by {d['decided_by']}")
    show(t)


def _decided(reviewed: svc.Reviewed) -> None:
    note = reviewed.notification
    line = f"notification {note.id}: {note.match_status}"
    if note.matched_booking_id:
        line += f" to booking {note.matched_booking_id}"
    if reviewed.remembered_payer:
        line += " (payer remembered for the customer)"
    console().print(line)


_BOOKING = typer.Option(..., "--booking", parser=uuid_value, help="The booking it pays.")
_AMOUNT = typer.Option(
    None,
    "--amount",
    parser=money,
    help="What the booking receives, such as 12.50 (default the notice's amount).",
)
_NO_REMEMBER = typer.Option(
    False, "--no-remember", help="Do not remember a payer who is not the customer."
)


def _written(cents: int, currency: str) -> str:
    """Minor units as written, by the currency's decimals: 5000 JPY, 12.50 USD, 1.250 KWD."""
    places = minor_units(currency)
    return f"{Decimal(cents).scaleb(-places):.{places}f} {currency}"


def _minor_units(amount: Decimal, currency: str) -> int:
    """`amount` (as written, 12.50) in the minor units of `currency`."""
    value = amount * 10 ** minor_units(currency)
    if value != value.to_integral_value():
        raise ValidationError(
            f"an amount in {currency} has at most {minor_units(currency)} decimals"
        )
    return int(value)


def _match(
    tenant: str,
    notification_id: uuid.UUID,
    booking: uuid.UUID,
    amount: Decimal | None,
    no_remember: bool,
    *,
    reassign: bool,
) -> None:
    with database() as db:
        tenant_id = resolve_tenant(db, tenant)
        principal = _owner(tenant_id)
        with db.tenant_uow(tenant_id, actor="cli:payments-review") as uow:
            cents = None
            if amount is not None:  # in the notice's currency: 5000 JPY are 5000 minor units
                note = svc.get_notification(uow, principal, notification_id)
                cents = _minor_units(amount, note.currency)
            done = svc.match_notification(
                uow,
                principal,
                notification_id,
                booking,
                amount_cents=cents,
                remember_payer=not no_remember,
                reassign=reassign,
            )
            uow.commit()
    _decided(done)


@review_app.command("match")
def review_match(
    notification_id: uuid.UUID = typer.Argument(..., parser=uuid_value, help="The notification."),
    tenant: str = tenant_option(),
    booking: uuid.UUID = _BOOKING,
    amount: Decimal | None = _AMOUNT,
    no_remember: bool = _NO_REMEMBER,
) -> None:
    """Match a notification from the queue to a booking (records the payment)."""
    _match(tenant, notification_id, booking, amount, no_remember, reassign=False)


@review_app.command("reassign")
def review_reassign(
    notification_id: uuid.UUID = typer.Argument(..., parser=uuid_value, help="The notification."),
    tenant: str = tenant_option(),
    booking: uuid.UUID = _BOOKING,
    amount: Decimal | None = _AMOUNT,
    no_remember: bool = _NO_REMEMBER,
) -> None:
    """Move a matched notification's payment to another booking."""
    _match(tenant, notification_id, booking, amount, no_remember, reassign=True)


@review_app.command("reject")
def review_reject(
    notification_id: uuid.UUID = typer.Argument(..., parser=uuid_value, help="The notification."),
    tenant: str = tenant_option(),
    reason: svc.RejectReason = typer.Option(..., "--reason", help="Why (a code)."),
) -> None:
    """Reject a notification (a matched one gives its payment back)."""
    with database() as db:
        tenant_id = resolve_tenant(db, tenant)
        with db.tenant_uow(tenant_id, actor="cli:payments-review") as uow:
            done = svc.reject_notification(uow, _owner(tenant_id), notification_id, reason)
            uow.commit()
    _decided(done)
