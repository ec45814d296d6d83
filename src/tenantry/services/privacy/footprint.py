"""Where a data subject appears: every row of the tenant that is about them, in the database
and in the analytics lake. The one definition that the access export shows, the erasure acts
on, and the scan searches.

Starting from the e-mail address (and the subject registry's blind index), the search follows
the model's references: customers and leads with that address, leads converted into those
customers, their vehicles, bookings, items, payments, invoices, payment notifications, threads,
messages (correspondence and chat, every partition), escalations, reviews, e-mail events,
interactions, score history, visibility checks, and the subject's consent journal, opt-in
tokens and requests. Events (`events.inbox` and the lake's Delta tables) and experiment
decisions (`decisions.decisions`) know the subject only by pseudonymous values, the `needles`:
the subject's pseudonym (`user_key`) and the keyed hash of the e-mail address (`email_key`).
Every tenant table and every lake table is listed in the manifest with how it was searched,
including those where nothing was found.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

from tenantry.db.uow import UnitOfWork
from tenantry.events.erasure import lake_needles
from tenantry.lake.erasure import lake_tables, subject_rows
from tenantry.models import Base, Subject, tenant_tables
from tenantry.privacy.crypto import normalise_email
from tenantry.privacy.keys import KeyRing
from tenantry.privacy.sealing import open_json_row
from tenantry.privacy.subjects import find_subject

__all__ = [
    "LAKE",
    "Footprint",
    "find_footprint",
    "pseudonymised_columns",
    "row_dicts",
    "rows_now",
]

LAKE = "lake:"  # prefix of a lake table's place name, e.g. "lake:raw/events"

# table -> (how it is searched, SQL condition on alias t). Placeholders: :e e-mail, :c customer
# ids, :l lead ids, :b booking ids, :th thread ids, :s subject ids.
SEARCH: dict[str, tuple[str, str]] = {
    "crm.customers": (
        "subject (blind index of the e-mail), or customer of a matching lead",
        "t.subject_id = ANY(:s) OR t.id = ANY(:c)",
    ),
    "crm.leads": (
        "subject (blind index of the e-mail), or converted into a matching customer",
        "t.subject_id = ANY(:s) OR t.customer_id = ANY(:c)",
    ),
    "crm.vehicles": (
        "owned by a matching customer",
        "t.customer_id = ANY(:c) OR t.subject_id = ANY(:s)",
    ),
    "crm.lead_score_history": ("of a matching lead", "t.lead_id = ANY(:l)"),
    "crm.lead_interactions": (
        "with a matching lead",
        "t.lead_id = ANY(:l) OR t.subject_id = ANY(:s)",
    ),
    "commerce.bookings": (
        "by a matching customer or lead",
        "t.customer_id = ANY(:c) OR t.lead_id = ANY(:l) OR t.subject_id = ANY(:s)",
    ),
    "commerce.booking_items": ("of a matching booking", "t.booking_id = ANY(:b)"),
    "commerce.payments": (
        "for a matching booking or customer",
        "t.booking_id = ANY(:b) OR t.customer_id = ANY(:c) OR t.subject_id = ANY(:s)",
    ),
    "commerce.invoices": (
        "to a matching customer or for a matching booking",
        "t.customer_id = ANY(:c) OR t.booking_id = ANY(:b) OR t.subject_id = ANY(:s)",
    ),
    "commerce.invoice_lines": (
        "of a matching invoice",
        "t.invoice_id IN (SELECT i.id FROM commerce.invoices i WHERE i.tenant_id = t.tenant_id"
        " AND (i.customer_id = ANY(:c) OR i.booking_id = ANY(:b) OR i.subject_id = ANY(:s)))",
    ),
    "commerce.coupons": (
        "issued to a matching customer or for a matching booking",
        "t.customer_id = ANY(:c) OR t.booking_id = ANY(:b) OR t.subject_id = ANY(:s)",
    ),
    "commerce.payment_notifications": (
        "matched to a matching booking",
        "t.matched_booking_id = ANY(:b) OR t.subject_id = ANY(:s)",
    ),
    "commerce.payer_aliases": (
        "confirmed payers of a matching customer",
        "t.customer_id = ANY(:c) OR t.subject_id = ANY(:s)",
    ),
    "engage.threads": (
        "with a matching customer or lead",
        "t.customer_id = ANY(:c) OR t.lead_id = ANY(:l) OR t.subject_id = ANY(:s)",
    ),
    "engage.messages": ("in a matching thread", "t.thread_id = ANY(:th) OR t.subject_id = ANY(:s)"),
    "engage.chat_messages": (
        "in a matching thread (chat, all partitions)",
        "t.thread_id = ANY(:th) OR t.subject_id = ANY(:s)",
    ),
    "engage.escalations": (
        "of a matching thread or review",
        "t.thread_id = ANY(:th) OR t.subject_id = ANY(:s) OR t.review_id IN (SELECT r.id"
        " FROM engage.reviews r WHERE r.tenant_id = t.tenant_id AND (r.customer_id = ANY(:c)"
        " OR r.booking_id = ANY(:b) OR r.subject_id = ANY(:s)))",
    ),
    "engage.reviews": (
        "by a matching customer or on a matching booking",
        "t.customer_id = ANY(:c) OR t.booking_id = ANY(:b) OR t.subject_id = ANY(:s)",
    ),
    "engage.email_events": (
        "to a matching customer or the subject",
        "t.customer_id = ANY(:c) OR t.subject_id = ANY(:s)",
    ),
    "insight.visibility_checks": ("requested by a matching lead", "t.lead_id = ANY(:l)"),
    "privacy.subjects": ("blind index of the e-mail", "t.id = ANY(:s)"),
    "privacy.consent_journal": ("decisions of the subject", "t.subject_id = ANY(:s)"),
    "privacy.doi_tokens": ("opt-ins of the subject", "t.subject_id = ANY(:s)"),
    "privacy.dsar_requests": ("requests of the subject", "t.subject_id = ANY(:s)"),
    "events.inbox": (
        "events of the subject: its pseudonym (user_key) or the keyed hash of its e-mail",
        "t.user_key = ANY(:n) OR t.properties->>'email_key' = ANY(:n)",
    ),
    "events.outbox": (
        "database changes about the subject (consent decisions carry its pseudonym as user_key)",
        "t.payload->>'user_key' = ANY(:n)",
    ),
    "decisions.decisions": (
        "experiment decisions about the subject: its pseudonym (user_key)",
        "t.user_key = ANY(:n)",
    ),
}
LAKE_SEARCH = "rows of the tenant carrying the subject's pseudonym or keyed e-mail hash"
NOT_ABOUT_PERSONS = "searched: holds no data about end customers"


@dataclass
class Footprint:
    """The subject's rows: database rows by id, lake rows as read (the lake has no ids)."""

    email: str
    subject: Subject | None
    needles: list[str] = field(default_factory=list)
    rows: dict[str, list[uuid.UUID]] = field(default_factory=dict)
    lake: dict[str, list[dict[str, object]]] = field(default_factory=dict)
    manifest: list[dict[str, object]] = field(default_factory=list)

    def ids(self, table: str) -> list[uuid.UUID]:
        return self.rows.get(table, [])

    def places(self) -> set[str]:
        """Every place holding at least one of the subject's rows (lake tables prefixed)."""
        found = {table for table, ids in self.rows.items() if ids}
        return found | {LAKE + table for table, rows in self.lake.items() if rows}

    @property
    def total(self) -> int:
        return sum(len(v) for v in self.rows.values()) + sum(len(v) for v in self.lake.values())


def _ids(uow: UnitOfWork, table: str, params: dict[str, object]) -> list[uuid.UUID]:
    _how, condition = SEARCH[table]
    sql = f"SELECT t.id FROM {table} t WHERE t.tenant_id = :tenant AND ({condition})"
    return list(uow.session.scalars(sa.text(sql), params))


def find_footprint(
    uow: UnitOfWork, ring: KeyRing, email: str, *, lake_home: Path | None = None
) -> Footprint:
    """The subject's footprint in the tenant; with `lake_home` (`$TENANTRY_HOME`), in the
    lake too."""
    normal = normalise_email(email)
    subject = find_subject(uow, ring, email=normal)
    needles = lake_needles(ring, pseudonym=subject.pseudonym if subject else None, email=normal)
    fp = Footprint(normal, subject, needles)
    tenant = uow.require_tenant()
    customers: list[uuid.UUID] = []
    leads: list[uuid.UUID] = []
    p: dict[str, object] = {
        "tenant": tenant,
        "e": normal,
        "c": customers,
        "l": leads,
        "b": [],
        "th": [],
        "s": [subject.id] if subject else [],
        "n": needles,
    }
    # Customers and leads reference each other: follow until nothing new appears.
    for _ in range(3):
        customers = sorted(set(customers) | set(_ids(uow, "crm.customers", p)))
        p["c"] = customers
        leads = _ids(uow, "crm.leads", p)
        p["l"] = leads
        converted = set(
            uow.session.scalars(
                sa.text(
                    "SELECT customer_id FROM crm.leads WHERE tenant_id = :tenant AND id = ANY(:ids)"
                    " AND customer_id IS NOT NULL"
                ),
                {"tenant": tenant, "ids": leads},
            )
        )
        if converted <= set(customers):
            break
        customers = sorted(set(customers) | converted)
        p["c"] = customers
    fp.rows["crm.customers"], fp.rows["crm.leads"] = customers, leads
    p["b"] = fp.rows["commerce.bookings"] = _ids(uow, "commerce.bookings", p)
    p["th"] = fp.rows["engage.threads"] = _ids(uow, "engage.threads", p)
    for table in SEARCH:
        if table not in fp.rows:
            fp.rows[table] = _ids(uow, table, p)
    for table in tenant_tables():
        how = SEARCH[table][0] if table in SEARCH else NOT_ABOUT_PERSONS
        fp.manifest.append(
            {"source": table, "searched_by": how, "rows": len(fp.rows.get(table, []))}
        )
    if lake_home is not None:
        fp.lake = subject_rows(lake_home, tenant, needles) if needles else {}
        for path in lake_tables(lake_home):
            name = str(path.relative_to(lake_home / "lake"))
            rows = len(fp.lake.get(name, []))
            fp.manifest.append({"source": LAKE + name, "searched_by": LAKE_SEARCH, "rows": rows})
    return fp


def rows_now(uow: UnitOfWork, fp: Footprint, table: str) -> list[uuid.UUID]:
    """The ids of `table`'s rows of the subject now, by the footprint's own rule (for a place
    keyed by the needles alone, such as the outbox, which may gain rows while an erasure runs)."""
    return _ids(uow, table, {"tenant": uow.require_tenant(), "n": fp.needles})


def pseudonymised_columns(table: str) -> list[str]:
    """Columns of the table's exported rows that hold keyed pseudonyms, not the values."""
    t = Base.metadata.tables[table]
    return sorted(
        c.name
        for c in t.c
        if c.info.get("pii") == "keyed_hash" and not isinstance(c.type, sa.LargeBinary)
    )


def row_dicts(
    uow: UnitOfWork, ring: KeyRing, table: str, ids: list[uuid.UUID]
) -> list[dict[str, object]]:
    """The rows as JSON-ready dicts, personal data opened (other bytea as hex), for the export."""
    if not ids:
        return []
    t = Base.metadata.tables[table]
    # Binary blind indexes and key material mean nothing to a reader; text pseudonyms
    # (`user_key`, `pseudonym`) are shown, and named as pseudonyms in the manifest.
    hidden = {
        c.name
        for c in t.c
        if c.name in {"wrapped_key", "token_hash"}
        or (c.info.get("pii") == "keyed_hash" and isinstance(c.type, sa.LargeBinary))
    }
    rows = uow.session.execute(
        sa.text(
            f"SELECT to_jsonb(t) FROM {table} t WHERE t.tenant_id = :tenant AND t.id = ANY(:ids)"
            " ORDER BY t.id"
        ),
        {"tenant": uow.require_tenant(), "ids": ids},
    ).scalars()
    return [
        {k: v for k, v in open_json_row(ring, table, row).items() if k not in hidden}
        for row in rows
    ]
