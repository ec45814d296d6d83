"""`tenantry threads list|show` and `tenantry messages upkeep`.

The thread commands read as a tenant role (default analyst: read only) through the same use
cases as the API. Message bodies and thread subjects are personal data: they are masked unless
`--reveal` is given. The upkeep runs as the owner: it creates the chat partitions ahead and
drops the months past 90 days (`tenantry.conversations.upkeep`).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import typer

from tenantry.cli.common import database, resolve_tenant
from tenantry.cli.output import print_json, show, table
from tenantry.cli.params import OutputFormat, format_option, instant, tenant_option, uuid_value
from tenantry.conversations.scheduled import upkeep_once
from tenantry.conversations.threads import list_messages
from tenantry.errors import ConflictError
from tenantry.models import ChatMessage
from tenantry.models.enums import MembershipRole, ThreadStatus
from tenantry.services.principal import Principal
from tenantry.services.records import KINDS, get_record, list_records

__all__ = ["messages_app", "threads_app"]

threads_app = typer.Typer(
    help="Conversation threads with customers and leads.", no_args_is_help=True
)
messages_app = typer.Typer(help="Chat message partitions.", no_args_is_help=True)

MASK = "***"
_AS_ROLE = typer.Option(
    MembershipRole.ANALYST, "--as-role", help="The tenant role to read as; default analyst."
)
_REVEAL = typer.Option(False, "--reveal", help="Show subjects and bodies (personal data).")


def _shown(value: str | None, reveal: bool) -> str:
    if value is None:
        return "-"
    return value if reveal else MASK


@threads_app.command("list")
def list_threads(
    tenant: str = tenant_option(),
    customer: uuid.UUID | None = typer.Option(
        None, "--customer", parser=uuid_value, help="Only this customer's threads."
    ),
    status: ThreadStatus | None = typer.Option(None, "--status", help="open, pending or closed."),
    limit: int = typer.Option(50, "--limit", min=1, max=500, help="How many (1..500)."),
    reveal: bool = _REVEAL,
    fmt: OutputFormat = format_option(),
    as_role: MembershipRole = _AS_ROLE,
) -> None:
    """List a tenant's threads, oldest first."""
    with database() as db:
        tenant_id = resolve_tenant(db, tenant)
        principal = Principal(tenant_id=tenant_id, role=as_role)
        with db.tenant_uow(tenant_id) as uow:
            rows = [
                {
                    "id": str(t.id),
                    "channel": str(t.channel),
                    "status": str(t.status),
                    "customer_id": str(t.customer_id) if t.customer_id else None,
                    "lead_id": str(t.lead_id) if t.lead_id else None,
                    "subject": _shown(t.subject, reveal),
                    "last_message_at": t.last_message_at.isoformat() if t.last_message_at else None,
                }
                for t in list_records(
                    uow,
                    principal,
                    KINDS["thread"],
                    where={"customer_id": customer, "status": status},
                    limit=limit,
                )
            ]
    if fmt is OutputFormat.JSON:
        print_json({"threads": rows})
        return
    t = table("id", "channel", "status", "customer", "lead", "subject", "last message")
    for r in rows:
        t.add_row(*(str(v or "-") for v in r.values()))
    show(t)


@threads_app.command("show")
def show_thread(
    thread_id: uuid.UUID = typer.Argument(..., parser=uuid_value, help="The thread's id."),
    tenant: str = tenant_option(),
    limit: int = typer.Option(100, "--limit", min=1, max=500, help="Messages to show (1..500)."),
    reveal: bool = _REVEAL,
    fmt: OutputFormat = format_option(),
    as_role: MembershipRole = _AS_ROLE,
) -> None:
    """Show a thread and its messages, oldest first."""
    with database() as db:
        tenant_id = resolve_tenant(db, tenant)
        principal = Principal(tenant_id=tenant_id, role=as_role)
        with db.tenant_uow(tenant_id) as uow:
            thread = get_record(uow, principal, KINDS["thread"], thread_id)
            messages, _more = list_messages(uow, principal, thread_id, limit=limit)
            head = {
                "id": str(thread.id),
                "channel": str(thread.channel),
                "status": str(thread.status),
                "subject": _shown(thread.subject, reveal),
            }
            items = [
                {
                    "sent_at": m.sent_at.isoformat(),
                    "storage": "chat" if isinstance(m, ChatMessage) else "correspondence",
                    "channel": str(m.channel),
                    "direction": str(m.direction),
                    "author": str(m.author_kind),
                    "body": _shown(m.body, reveal),
                }
                for m in messages
            ]
    if fmt is OutputFormat.JSON:
        print_json({"thread": head, "messages": items})
        return
    print(" ".join(f"{k}={v}" for k, v in head.items()))
    t = table("sent at", "storage", "channel", "direction", "author", "body")
    for r in items:
        t.add_row(*r.values())
    show(t)


@messages_app.command("upkeep")
def upkeep(
    now: datetime | None = typer.Option(
        None, "--now", parser=instant, metavar="ISO", help="The time to act as of; default now."
    ),
    months_ahead: int = typer.Option(
        3, "--months-ahead", min=0, max=24, help="Monthly partitions to keep ready (0..24)."
    ),
    fmt: OutputFormat = format_option(),
) -> None:
    """Create the chat partitions ahead; drop months older than 90 days (idempotent)."""
    moment = now or datetime.now(UTC)
    with database() as db:
        report = upkeep_once(
            db.target.libpq(db.target.owner_url), now=moment, months_ahead=months_ahead
        )
    if report is None:
        raise ConflictError("another process is running the chat upkeep now; try again shortly")
    if fmt is OutputFormat.JSON:
        print_json(
            {
                "now": report.now.isoformat(),
                "cutoff": report.cutoff.isoformat(),
                "partitions_created": report.created,
                "dropped": [
                    {
                        "month": d.month.isoformat(),
                        "partition": d.partition,
                        "rows": d.rows,
                        "kept_for_hold": d.kept,
                    }
                    for d in report.dropped
                ],
                "default_partition_rows_deleted": report.default_deleted,
            }
        )
        return
    for d in report.dropped:
        print(f"dropped {d.partition}: {d.rows} rows ({d.kept} kept for a legal hold)")
    print(
        f"{report.created} partitions created, {len(report.dropped)} dropped,"
        f" {report.rows} rows removed (kept since {report.cutoff.date().isoformat()})"
    )
