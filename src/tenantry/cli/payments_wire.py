"""`tenantry payments stripe-secret set | list | revoke` and `tenantry payments watch`.

A signing secret is read from stdin or from a named environment variable, never from the
command line (where `ps` and shell histories would show it); listings mask it. `watch` reads
new messages of an IMAP mailbox, parses each (`parse_email`, DKIM-checked with the verifier the
settings name) and records it (`intake.record_notices`, the settings' matching policy), keeping
its position in the database; the IMAP password comes from an environment variable too. What
they print is ids and counts, never a secret, an address or a message.
"""

from __future__ import annotations

import os
import re
import sys
import threading
import uuid
from collections import Counter

import typer

from tenantry.cli.common import database, resolve_tenant
from tenantry.cli.output import print_json, show, table
from tenantry.cli.params import OutputFormat, format_option, tenant_option, uuid_value
from tenantry.config import Settings, get_settings
from tenantry.db.engine import Database
from tenantry.errors import ValidationError
from tenantry.models.enums import MembershipRole
from tenantry.payments.cursors import DatabaseCursors
from tenantry.payments.endpoints import add_secret, list_endpoints, revoke_endpoint
from tenantry.payments.imap import (
    BatchReport,
    MailboxWatcher,
    MessageHandler,
    parse_imap_url,
)
from tenantry.payments.intake import record_notices
from tenantry.payments.matching import Policy
from tenantry.payments.sources import parse_email
from tenantry.payments.trust import DkimVerifier
from tenantry.services.principal import Principal

__all__ = ["app", "env_name", "imap_url", "stripe_secret_app", "watch"]

app = typer.Typer(help="Payments: notifications from Stripe and mailboxes.", no_args_is_help=True)
stripe_secret_app = typer.Typer(
    help="Signing secrets of the tenant's Stripe webhook endpoint.", no_args_is_help=True
)
app.add_typer(stripe_secret_app, name="stripe-secret")

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
_ACTOR = "cli:payments"


def env_name(value: str) -> str:
    """The name of an environment variable (its value is read by the command)."""
    if not _ENV_NAME.fullmatch(value):
        raise typer.BadParameter("must be the name of an environment variable, such as SECRET")
    return value


def imap_url(value: str) -> str:
    """`imaps://user@host[:port]/MAILBOX` or `imap://...` (checked again with --insecure)."""
    try:
        parse_imap_url(value, insecure=True)
    except ValidationError as exc:
        raise typer.BadParameter(exc.message) from None
    return value


def _from_env(name: str, what: str) -> str:
    value = os.environ.get(name, "")
    if not value.strip():
        raise ValidationError(f"the environment variable {name} (the {what}) is empty or unset")
    return value.strip()


@stripe_secret_app.command("set")
def set_secret(
    tenant: str = tenant_option(),
    from_env: str | None = typer.Option(
        None,
        "--from-env",
        parser=env_name,
        metavar="VAR",
        help="Read the secret from this environment variable (default: from stdin).",
    ),
    replace: bool = typer.Option(
        False, "--replace", help="Revoke the tenant's other Stripe secrets (after a roll)."
    ),
    label: str | None = typer.Option(None, metavar="LABEL", help="A label for listings."),
) -> None:
    """Add a signing secret (whsec_...) of the tenant's Stripe webhook endpoint.

    The tenant's earlier secrets stay valid (Stripe signs with both while a secret is rolled)
    unless --replace is given. Prints the secret's id.
    """
    if from_env is not None:
        secret = _from_env(from_env, "secret")
    else:
        if sys.stdin.isatty():
            print("paste the signing secret, then Ctrl-D:", file=sys.stderr)
        secret = sys.stdin.read(4096).strip()
        if not secret:
            raise ValidationError("no secret on stdin (or use --from-env VAR)")
    with database() as db:
        tenant_id = resolve_tenant(db, tenant)
        with db.platform_uow(actor=_ACTOR, tenant_id=tenant_id) as uow:
            added = add_secret(uow, tenant_id, secret, label=label, replace=replace)
            uow.commit()
    print(added.endpoint_id)
    state = "added" if added.created else "was active already"
    revoked = f"; {added.revoked} other(s) revoked" if added.revoked else ""
    print(f"stripe secret {added.endpoint_id} {state}{revoked}", file=sys.stderr)


@stripe_secret_app.command("list")
def list_secrets(tenant: str = tenant_option(), fmt: OutputFormat = format_option()) -> None:
    """List the tenant's Stripe signing secrets, masked (revoked ones too)."""
    with database() as db:
        tenant_id = resolve_tenant(db, tenant)
        with db.platform_uow(actor=_ACTOR, tenant_id=tenant_id) as uow:
            views = list_endpoints(uow, tenant_id)
    rows = [
        {
            "id": str(v.id),
            "provider": v.provider,
            "label": v.label,
            "secret": v.masked,
            "created_at": v.created_at.isoformat(timespec="seconds"),
            "revoked_at": v.revoked_at.isoformat(timespec="seconds") if v.revoked_at else None,
        }
        for v in views
    ]
    if fmt is OutputFormat.JSON:
        print_json(rows)
        return
    out = table("id", "provider", "label", "secret", "created", "revoked")
    for r in rows:
        out.add_row(
            r["id"], r["provider"], r["label"] or "", r["secret"], r["created_at"],
            r["revoked_at"] or "",
        )  # fmt: skip
    show(out)


@stripe_secret_app.command("revoke")
def revoke_secret(
    secret_id: uuid.UUID = typer.Argument(
        ..., parser=uuid_value, metavar="SECRET_ID", help="Id of the secret (from `list`)."
    ),
    tenant: str = tenant_option(),
) -> None:
    """Revoke a signing secret: webhooks signed with it are refused from now on."""
    with database() as db:
        tenant_id = resolve_tenant(db, tenant)
        with db.platform_uow(actor=_ACTOR, tenant_id=tenant_id) as uow:
            changed = revoke_endpoint(uow, tenant_id, secret_id)
            uow.commit()
    print(f"stripe secret {secret_id} {'revoked' if changed else 'was revoked already'}",
          file=sys.stderr)  # fmt: skip


def mail_handler(
    db: Database, tenant_id: uuid.UUID, counts: Counter[str], settings: Settings
) -> MessageHandler:
    """Each message: parsed, then recorded and committed in one unit of work.

    The DKIM verifier (keys file or DNS, with its key cache) and the matching policy are made
    once, from `settings`, for every message the watch reads.
    """
    principal = Principal(tenant_id=tenant_id, role=MembershipRole.MANAGER)
    verifier = DkimVerifier.from_settings(settings)
    policy = Policy.from_settings(settings)

    def handle(uid: int, raw: bytes) -> None:
        item = parse_email(raw, verifier=verifier, origin=f"imap:{uid}")
        with db.platform_uow(actor="cli:payments-watch", tenant_id=tenant_id) as uow:
            outcomes = record_notices(uow, principal, [item], policy=policy)
            uow.commit()
        counts.update(o.status for o in outcomes)

    return handle


@app.command("watch")
def watch(
    tenant: str = tenant_option(),
    imap: str = typer.Option(
        ...,
        "--imap",
        parser=imap_url,
        metavar="URL",
        help="The mailbox: imaps://user@host[:port]/MAILBOX (INBOX if none).",
    ),
    password_env: str = typer.Option(
        "TENANTRY_IMAP_PASSWORD",
        "--password-env",
        parser=env_name,
        metavar="VAR",
        help="The environment variable holding the IMAP password.",
    ),
    once: bool = typer.Option(False, "--once", help="Read what is new once, then stop."),
    interval: int = typer.Option(
        60, "--interval", min=5, max=86_400, metavar="SECONDS", help="Pause between polls."
    ),
    insecure: bool = typer.Option(
        False, "--insecure", help="Allow plain imap:// to a host other than localhost."
    ),
) -> None:
    """Watch an IMAP mailbox for payment notifications and record each new one.

    Messages are read, never changed (EXAMINE, BODY.PEEK). The position (mailbox, UIDVALIDITY,
    last UID) is kept per tenant, so a restarted watch goes on where it stopped; a message is
    counted as read only once it was recorded. Network errors reconnect with growing pauses;
    Ctrl-C stops. One line per poll on stderr, with counts only.
    """
    url = parse_imap_url(imap, insecure=insecure)
    password = _from_env(password_env, "IMAP password")
    settings = get_settings()
    stop = threading.Event()
    counts: Counter[str] = Counter()

    def report(batch: BatchReport) -> None:
        verdicts = ", ".join(f"{k} {n}" for k, n in sorted(counts.items()))
        print(batch.line() + (f": {verdicts}" if verdicts else ""), file=sys.stderr)
        counts.clear()

    with database() as db:
        tenant_id = resolve_tenant(db, tenant)
        watcher = MailboxWatcher(
            url, password, DatabaseCursors(db, tenant_id), timeout=settings.imap_timeout_seconds
        )
        try:
            watcher.run(
                mail_handler(db, tenant_id, counts, settings),
                interval=interval,
                stop=stop,
                report=report,
                once=once,
                attempts=3 if once else None,
            )
        except KeyboardInterrupt:
            stop.set()
            print("payments watch: stopped", file=sys.stderr)
