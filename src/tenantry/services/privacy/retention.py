"""Retention: policies as data, applied idempotently, never touching what a legal hold covers.

Each dataset the runner knows maps to a table, the column its period counts from, and how a
legal hold reaches its rows (by row, by customer). The effective policy of a tenant is its
override in `privacy.retention_policies` or the shipped default. Periods counted from the end
of the calendar year (commercial and tax law) expire on 1 January after the last full year.

Actions: `delete` removes expired rows; `anonymise` clears their personal-data columns and
keeps the business figures. Rows under an active legal hold are counted and left alone.
A second run finds nothing left to do.

Who may: running the job and placing or releasing legal holds change what personal data is
kept, so they need the `privacy` permission (owner, dpo), like access exports; the effective
policies are the tenant's published rules (the processing register shows them to every role)
and need `read`. The entrypoints pass the acting `Principal`; each function checks it before
touching anything.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime

import sqlalchemy as sa

from tenantry.db.engine import Database
from tenantry.db.uow import UnitOfWork
from tenantry.errors import NotFoundError, ValidationError
from tenantry.models import Base, LegalHold, Tenant
from tenantry.models.enums import HoldScope, RetentionAction
from tenantry.services.principal import Action, Principal

__all__ = [
    "DATASETS",
    "Dataset",
    "RetentionOutcome",
    "effective_policies",
    "every_tenant",
    "place_hold",
    "release_hold",
    "retained_until",
    "run_retention",
]


@dataclass(frozen=True)
class Dataset:
    """How the runner finds a dataset's expired rows."""

    table: str
    date_column: str
    customer_column: str | None = None
    extra_condition: str | None = None

    @property
    def pii_columns(self) -> list[str]:
        t = Base.metadata.tables[self.table]
        return [
            c.name for c in t.c if c.info.get("pii") not in (None, "keyed_hash", "key_material")
        ]


DATASETS: dict[str, Dataset] = {
    "commerce.invoices": Dataset("commerce.invoices", "issued_on", "customer_id"),
    "commerce.payments": Dataset(
        "commerce.payments", "coalesce(t.paid_at, t.created_at)", "customer_id"
    ),
    # A notification's customer is the one of the booking it was matched to.
    "commerce.payment_notifications": Dataset(
        "commerce.payment_notifications",
        "received_at",
        "(SELECT b.customer_id FROM commerce.bookings b"
        " WHERE b.tenant_id = t.tenant_id AND b.id = t.matched_booking_id)",
    ),
    "engage.messages": Dataset(
        "engage.messages",
        "sent_at",
        "(SELECT th.customer_id FROM engage.threads th"
        " WHERE th.tenant_id = t.tenant_id AND th.id = t.thread_id)",
    ),
    "engage.email_events": Dataset("engage.email_events", "occurred_at", "customer_id"),
    # Only superseded decisions expire: the latest one per purpose stays as proof.
    "privacy.consent_journal": Dataset(
        "privacy.consent_journal",
        "recorded_at",
        None,
        "EXISTS (SELECT 1 FROM privacy.consent_journal n WHERE n.tenant_id = t.tenant_id"
        " AND n.subject_id = t.subject_id AND n.purpose = t.purpose"
        " AND (n.recorded_at, n.id) > (t.recorded_at, t.id))",
    ),
    "privacy.doi_tokens": Dataset(
        "privacy.doi_tokens", "expires_at", None, "t.confirmed_at IS NULL"
    ),
    "crm.leads": Dataset("crm.leads", "updated_at", "customer_id"),
    "crm.customers": Dataset(
        "crm.customers",
        "updated_at",
        "id",
        "NOT EXISTS (SELECT 1 FROM commerce.bookings b WHERE b.tenant_id = t.tenant_id"
        " AND b.customer_id = t.id AND b.starts_at >= :cutoff)",
    ),
}


@dataclass
class RetentionOutcome:
    tenant: str
    dataset: str
    action: str
    cutoff: datetime | None
    affected: int = 0
    held: int = 0
    note: str = ""


@dataclass
class _Policy:
    dataset: str
    period_months: int
    period_days: int
    start_event: str
    action: RetentionAction
    overridden: bool = field(default=False)


def effective_policies(uow: UnitOfWork, principal: Principal) -> list[_Policy]:
    """The tenant's policies: its override where it has one, else the shipped default."""
    principal.require(Action.READ, "read the retention policies")
    return _policies(uow)


def _policies(uow: UnitOfWork) -> list[_Policy]:
    rows = uow.session.execute(
        sa.text(
            "SELECT d.dataset, coalesce(p.period_months, d.period_months) AS period_months,"
            " coalesce(p.period_days, d.period_days) AS period_days, d.start_event,"
            " coalesce(p.action, d.action) AS action, p.dataset IS NOT NULL AS overridden"
            " FROM privacy.retention_defaults d LEFT JOIN privacy.retention_policies p"
            " ON p.dataset = d.dataset AND p.tenant_id = :t ORDER BY d.dataset"
        ),
        {"t": uow.require_tenant()},
    ).all()
    return [
        _Policy(
            r.dataset,
            r.period_months,
            r.period_days,
            r.start_event,
            RetentionAction(r.action),
            r.overridden,
        )
        for r in rows
    ]


def _cutoff(uow: UnitOfWork, policy: _Policy) -> datetime:
    expr = "CAST(:now AS timestamptz) - make_interval(months => :m, days => :d)"
    if policy.start_event == "end_of_calendar_year":
        expr = f"date_trunc('year', ({expr}) AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'"
    value = uow.session.scalar(
        sa.text(f"SELECT {expr}"),
        {"now": uow.clock.now(), "m": policy.period_months, "d": policy.period_days},
    )
    assert isinstance(value, datetime)
    return value


def _hold_clause(ds: Dataset) -> str:
    customer = (
        f" OR (h.scope = 'customer' AND h.target_id = {_col(ds.customer_column)})"
        if ds.customer_column
        else ""
    )
    return (
        "EXISTS (SELECT 1 FROM privacy.legal_holds h WHERE h.tenant_id = t.tenant_id"
        " AND h.released_at IS NULL AND ((h.scope = 'dataset' AND h.dataset = :dataset)"
        " OR (h.scope = 'row' AND h.dataset = :dataset AND h.target_id = t.id)" + customer + "))"
    )


def _col(expr: str) -> str:
    return expr if "(" in expr or "." in expr else f"t.{expr}"


def _apply(
    uow: UnitOfWork, policy: _Policy, ds: Dataset, *, dry_run: bool, tenant: str
) -> RetentionOutcome:
    cutoff = _cutoff(uow, policy)
    outcome = RetentionOutcome(tenant, policy.dataset, policy.action.value, cutoff)
    where = ["t.tenant_id = :tenant", f"{_col(ds.date_column)} < :cutoff"]
    if ds.extra_condition:
        where.append(ds.extra_condition)
    pii = ds.pii_columns
    if policy.action is RetentionAction.ANONYMISE:
        if not pii:
            outcome.note = "nothing personal to anonymise"
            return outcome
        where.append("(" + " OR ".join(f"t.{c} IS NOT NULL" for c in pii) + ")")
    params = {"tenant": uow.require_tenant(), "cutoff": cutoff, "dataset": policy.dataset}
    base = f"FROM {ds.table} t WHERE " + " AND ".join(where)
    hold = _hold_clause(ds)
    outcome.held = int(
        uow.session.scalar(sa.text(f"SELECT count(*) {base} AND {hold}"), params) or 0
    )
    eligible = f"{base} AND NOT {hold}"
    if dry_run:
        outcome.affected = int(
            uow.session.scalar(sa.text(f"SELECT count(*) {eligible}"), params) or 0
        )
        return outcome
    if policy.action is RetentionAction.DELETE:
        if ds.table == "commerce.payments":
            uow.session.execute(
                sa.text(
                    "UPDATE commerce.payment_notifications n SET matched_payment_id = NULL"
                    " WHERE n.tenant_id = :tenant AND n.matched_payment_id IN"
                    f" (SELECT t.id {eligible})"
                ),
                params,
            )
        result = uow.session.execute(
            sa.text(
                f"DELETE FROM {ds.table} d WHERE d.tenant_id = :tenant AND d.id IN"
                f" (SELECT t.id {eligible})"
            ),
            params,
        )
    else:
        sets = ", ".join(f"{c} = NULL" for c in pii)
        result = uow.session.execute(
            sa.text(
                f"UPDATE {ds.table} u SET {sets}, updated_at = u.updated_at WHERE"
                f" u.tenant_id = :tenant AND u.id IN (SELECT t.id {eligible})"
            ),
            params,
        )
    outcome.affected = int(result.rowcount)  # type: ignore[attr-defined]
    return outcome


def every_tenant(db: Database) -> list[uuid.UUID]:
    """Every tenant, deleted ones included (their data expires too), by slug."""
    with db.platform_uow() as uow:
        return list(uow.session.scalars(sa.select(Tenant.id).order_by(Tenant.slug)))


def run_retention(
    db: Database, principal: Principal, *, dry_run: bool = False
) -> list[RetentionOutcome]:
    """Apply every effective policy to the principal's tenant, in one transaction."""
    principal.require(Action.PRIVACY, "apply retention policies")
    tenant_id = principal.tenant_id
    outcomes: list[RetentionOutcome] = []
    # As the owner (the application role may not delete consent entries at all), with every
    # statement filtered by tenant; the flag lets the append-only guard of the consent journal
    # accept this job's deletions of superseded entries.
    with db.platform_uow(actor="system:retention", tenant_id=tenant_id) as uow:
        slug = uow.session.scalar(sa.select(Tenant.slug).where(Tenant.id == tenant_id))
        if slug is None:
            raise NotFoundError("tenant not found")
        uow.session.execute(sa.text("SELECT set_config('tenantry.retention', 'on', true)"))
        for policy in _policies(uow):
            ds = DATASETS.get(policy.dataset)
            if ds is None:
                outcomes.append(
                    RetentionOutcome(
                        slug,
                        policy.dataset,
                        policy.action.value,
                        None,
                        note="not stored in tenantry",
                    )
                )
                continue
            outcomes.append(_apply(uow, policy, ds, dry_run=dry_run, tenant=slug))
        if not dry_run:
            uow.commit()
    return outcomes


def place_hold(
    uow: UnitOfWork,
    principal: Principal,
    *,
    scope: HoldScope,
    reason: str,
    placed_by: str,
    dataset: str | None = None,
    target_id: uuid.UUID | None = None,
) -> LegalHold:
    """Put a legal hold on a dataset, a row of a dataset, or everything of a customer."""
    principal.require(Action.PRIVACY, "place legal holds")
    if not reason.strip():
        raise ValidationError("a legal hold needs a reason")
    if scope is not HoldScope.CUSTOMER and dataset not in DATASETS:
        raise ValidationError(f"unknown dataset; one of {', '.join(sorted(DATASETS))}")
    if (scope is HoldScope.DATASET) != (target_id is None):
        raise ValidationError("a row or customer hold needs a target id; a dataset hold none")
    hold = LegalHold(
        tenant_id=uow.require_tenant(),
        id=uow.ids(),
        scope=scope,
        dataset=dataset,
        target_id=target_id,
        reason=reason,
        placed_by=placed_by,
        placed_at=uow.clock.now(),
    )
    uow.session.add(hold)
    uow.flush()
    return hold


def release_hold(uow: UnitOfWork, principal: Principal, hold_id: uuid.UUID) -> LegalHold:
    principal.require(Action.PRIVACY, "release legal holds")
    hold = uow.session.get(LegalHold, (uow.require_tenant(), hold_id))
    if hold is None:
        raise NotFoundError("legal hold not found")
    if hold.released_at is not None:
        raise ValidationError("this legal hold has already been released")
    hold.released_at = uow.clock.now()
    uow.flush()
    return hold


def retained_until(uow: UnitOfWork, dataset: str, since: datetime) -> date:
    """The last day a row of `dataset` counted from `since` must be kept, by the tenant's
    effective policy (its override, else the default), read as `run_retention` applies it:
    the job removes the row from the day after."""
    policy = next((p for p in _policies(uow) if p.dataset == dataset), None)
    if policy is None:
        raise NotFoundError(f"no retention policy for {dataset}")
    start = "CAST(:since AS timestamptz)"
    if policy.start_event == "end_of_calendar_year":
        # The period starts at the end of the calendar year (the job's cutoff is truncated
        # to a year): the row may go on 1 January after the last full year.
        start = f"(date_trunc('year', {start} AT TIME ZONE 'UTC') + interval '1 year')"
        expr = f"({start} + make_interval(months => :m, days => :d))::date - 1"
    else:
        expr = f"({start} AT TIME ZONE 'UTC' + make_interval(months => :m, days => :d))::date"
    value = uow.session.scalar(
        sa.text(f"SELECT {expr}"),
        {"since": since, "m": policy.period_months, "d": policy.period_days},
    )
    assert isinstance(value, date)
    return value
