"""Erasure (GDPR Art. 17) with proof.

What may be deleted is deleted. Records under a retention duty (invoices, payments, and the
bookings and payment notifications they rest on) or under a legal hold keep their business
figures, but their personal data is replaced: names by an unlinkable replacement token
(`erased-<random>`), everything else by NULL. The customer row stays as a tombstone only when
such records still point at it. The consent journal stays (proof of consent is a legal
obligation) but holds no personal data. Then the subject's data keys are destroyed
(crypto-shredding), the blind indexes and pseudonym removed, the scan run, and a receipt
without personal data written.

What it acts on is the subject's footprint (`footprint.py`), the same rows the access export
shows and the scan searches: every place in it appears in the receipt, with what happened there.
Only the data protection officer may erase (`Action.ERASE`), whichever entrypoint asks.
`shorten_wal_retention` (after the commit) lets PostgreSQL recycle the WAL segments that still
hold the erased values sooner; docs/privacy.md lists what else remains, and for how long.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from tenantry.db.engine import Database
from tenantry.db.uow import UnitOfWork
from tenantry.errors import ConflictError, NotFoundError
from tenantry.lake.erasure import erase_subject_from_lake, lake_scan
from tenantry.models import Base, DsarRequest, ErasureReceipt, Subject
from tenantry.models.enums import DsarKind, DsarStatus
from tenantry.pipeline.runner import pipeline_lock
from tenantry.privacy.crypto import blind_index, normalise_email
from tenantry.privacy.keys import KeyRing
from tenantry.privacy.sealing import open_rows, seal_value
from tenantry.privacy.vault import keyring
from tenantry.services.principal import Action, Principal
from tenantry.services.privacy.dsar import close_request, open_request
from tenantry.services.privacy.footprint import LAKE, Footprint, find_footprint, rows_now
from tenantry.services.privacy.scan import Hit, scan, scan_exports, targets_of

__all__ = [
    "ErasureResult",
    "erase_subject",
    "shorten_wal_retention",
    "targets_of",
    "was_erased",
]

# Deleted unless held, children before parents.
DELETABLE = (
    "crm.lead_score_history",
    "crm.lead_interactions",
    "engage.email_events",
    "commerce.payer_aliases",
    "engage.escalations",
    "commerce.coupons",
    "engage.reviews",
    "engage.messages",
    "engage.chat_messages",
    "engage.threads",
    "privacy.doi_tokens",
    "crm.vehicles",
    "crm.leads",
)
# Kept for their figures (retention duty), personal data replaced.
KEPT = (
    "commerce.invoices",
    "commerce.payments",
    "commerce.payment_notifications",
    "commerce.bookings",
)
# References into deletable rows that kept rows may hold: (table, column, target table).
DETACH = (
    ("commerce.bookings", "lead_id", "crm.leads"),
    ("commerce.bookings", "vehicle_id", "crm.vehicles"),
    ("insight.visibility_checks", "lead_id", "crm.leads"),
)


# Not scanned right after an erasure: the receipts themselves, and the audit trail, which by
# construction holds no personal values (its trigger redacts every personal-data column; a
# catalog test keeps that list equal to the models). `tenantry privacy scan` covers both.
ERASURE_SCAN_SKIPS = frozenset({"privacy.erasure_receipts", "audit.log"})


# Places of the footprint the erasure keeps as they are, and why (they hold no personal data
# once the subject's keys are destroyed and its indexes removed).
KEPT_AS_IS = {
    "privacy.consent_journal": "kept: proof of consent (no personal data)",
    "privacy.dsar_requests": "kept: the request record (requester index replaced)",
    "insight.visibility_checks": "kept: business record (detached from the erased lead)",
}


@dataclass(frozen=True)
class ErasureResult:
    receipt: ErasureReceipt
    hits: list[Hit]
    wal: str | None = None  # what `shorten_wal_retention` did, when it was asked for

    def as_json(self) -> dict[str, object]:
        r = self.receipt
        return {
            "receipt_id": str(r.id),
            "request_id": str(r.request_id),
            "performed_at": r.performed_at.isoformat(),
            "replacement": r.replacement,
            "summary": r.summary,
            "keys_destroyed": r.keys_destroyed,
            "scan_hits": r.scan_hits,
            "receipt_hash": r.receipt_hash,
            "wal": self.wal,
        }


def _pii(table: str) -> list[sa.Column[object]]:
    return [c for c in Base.metadata.tables[table].c if "pii" in c.info]


def _personal(table: str) -> list[sa.Column[object]]:
    """Personal-data columns that hold values (not keyed hashes or key material)."""
    return [c for c in _pii(table) if c.info["pii"] not in ("keyed_hash", "key_material")]


def _held(uow: UnitOfWork, fp: Footprint) -> tuple[set[str], set[uuid.UUID], bool]:
    rows = uow.session.execute(
        sa.text(
            "SELECT scope, dataset, target_id FROM privacy.legal_holds"
            " WHERE tenant_id = :t AND released_at IS NULL"
        ),
        {"t": uow.require_tenant()},
    ).all()
    customers = set(fp.ids("crm.customers"))
    tables = {r.dataset for r in rows if r.scope == "dataset"}
    held_rows = {r.target_id for r in rows if r.scope == "row"}
    customer_hold = any(r.scope == "customer" and r.target_id in customers for r in rows)
    return tables, held_rows, customer_hold


def _replace(
    uow: UnitOfWork, ring: KeyRing, table: str, ids: list[uuid.UUID], replacement: str
) -> int:
    """Replace personal data: names and required columns by the token, the rest by NULL.

    The rows leave the subject (their `subject_id` is cleared) and the token is sealed under
    the tenant's records key, since the subject's key is about to be destroyed.
    """
    cols = _personal(table)
    if not ids or not cols:
        return 0
    keep = {
        c.name for c in cols if c.name.endswith("name") or c.info["pii"] == "name" or not c.nullable
    }
    present = {
        row["id"]: row
        for row in uow.session.execute(
            sa.text(
                f"SELECT id, {', '.join(f'{c.name} IS NOT NULL AS {c.name}' for c in cols)}"
                f" FROM {table} WHERE tenant_id = :t AND id = ANY(:ids)"
            ),
            {"t": uow.require_tenant(), "ids": ids},
        ).mappings()
    }
    linked = "subject_id" in Base.metadata.tables[table].c
    for row_id, has in present.items():
        values: dict[str, object] = {
            c.name: (
                seal_value(ring, table, c.name, row_id, None, replacement)
                if c.name in keep and (has[c.name] or not c.nullable)
                else None
            )
            for c in cols
        }
        if linked:
            values["subject_id"] = None
        for column in Base.metadata.tables[table].c:  # a plate's blind index finds the person
            if column.info.get("pii") == "keyed_hash":
                values[column.name] = None
        sets = ", ".join(f"{name} = :{name}" for name in values)
        uow.session.execute(
            sa.text(f"UPDATE {table} SET {sets} WHERE tenant_id = :t AND id = :id"),
            {"t": uow.require_tenant(), "id": row_id, **values},
        )
    return len(present)


def _delete(uow: UnitOfWork, table: str, ids: list[uuid.UUID]) -> int:
    if not ids:
        return 0
    result = uow.session.execute(
        sa.text(f"DELETE FROM {table} WHERE tenant_id = :t AND id = ANY(:ids)"),
        {"t": uow.require_tenant(), "ids": ids},
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def _residue(uow: UnitOfWork, ring: KeyRing, fp: Footprint, replacement: str) -> list[Hit]:
    """Personal data left in the subject's own remaining rows, column by column (this also
    catches values too common to search for, like a first name on its own). Keyed hashes are
    checked by the scan itself, by value."""
    hits: list[Hit] = []
    for table, ids in fp.rows.items():
        columns = [c.name for c in _personal(table)]
        if not ids or not columns:
            continue
        for row in open_rows(uow, ring, table, ids):
            hits.extend(
                Hit(table, column, str(row["id"]))
                for column in columns
                if row.get(column) is not None and row.get(column) != replacement
            )
    return hits


def _lookup(ring: KeyRing, email: str) -> bytes:
    return blind_index(ring.field_index_key("erasure-receipt"), normalise_email(email))


def was_erased(uow: UnitOfWork, ring: KeyRing, email: str) -> bool:
    """Whether an erasure receipt exists for this address in the tenant."""
    count = uow.session.scalar(
        sa.select(sa.func.count())
        .select_from(ErasureReceipt)
        .where(
            ErasureReceipt.tenant_id == uow.require_tenant(),
            ErasureReceipt.erased_lookup == _lookup(ring, email),
        )
    )
    return bool(count)


def _erase_lake(
    uow: UnitOfWork, fp: Footprint, lake_home: Path | None, note: Callable[[str, str, int], None]
) -> list[Hit]:
    """The subject's lake rows (with data files and log), found by the footprint's needles.

    Runs before the pseudonym is overwritten, since the lake knows the subject only by it.
    The lake is not transactional with PostgreSQL: it is erased even if this transaction
    later rolls back (the erasure was asked for anyway), and a re-run finds nothing left.
    While a pipeline run holds the lake, the erasure fails with a conflict and changes nothing
    in the database; retry it when the run is done.
    """
    if lake_home is None or not fp.needles:
        return []
    with pipeline_lock(lake_home):  # a pipeline run must not write back rows it read before
        report = erase_subject_from_lake(lake_home, uow.require_tenant(), fp.needles)
    for table, rows in report.tables.items():
        note(LAKE + table, "deleted (files vacuumed, log cleaned)", rows)
    return [
        Hit("lake", h.path, f"needle {h.needle_index}") for h in lake_scan(lake_home, fp.needles)
    ]


def shorten_wal_retention(db: Database) -> str:
    """Switch to a new WAL segment, then checkpoint, so the segments that still hold the erased
    values can be recycled now rather than after the next timed checkpoint.

    Runs as the server's administrative role (`admin_url`: the embedded server's superuser, or
    whatever role the operator configured). Without the privilege (superuser, or
    `pg_checkpoint` and EXECUTE on `pg_switch_wal`), the answer says so; it never fails.
    """
    engine = sa.create_engine(db.target.admin_url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            segment = conn.scalar(sa.text("SELECT pg_walfile_name(pg_switch_wal())"))
            conn.execute(sa.text("CHECKPOINT"))
    except DBAPIError as exc:
        state = getattr(exc.orig, "sqlstate", None)
        if state == "42501":  # insufficient_privilege
            return (
                "WAL not switched: the configured role lacks the privilege; an administrator"
                " can run SELECT pg_switch_wal(); CHECKPOINT; (docs/privacy.md)"
            )
        return f"WAL not switched: the server refused ({state or 'no connection'})"
    finally:
        engine.dispose()
    return f"WAL switched after segment {segment} and checkpoint done: it can be recycled now"


def erase_subject(
    uow: UnitOfWork, principal: Principal, email: str, *, lake_home: Path | None = None
) -> ErasureResult:
    """Erase everything about the subject with this e-mail that the law lets us erase.

    With `lake_home` (`$TENANTRY_HOME`), the subject's rows leave the analytics lake too, and
    a scan of the lake directory (raw bytes and decoded Parquet values) and of the exports
    folder is part of the proof.
    """
    principal.require(Action.ERASE)
    ring = keyring(uow)
    tenant = uow.require_tenant()
    normal = normalise_email(email)
    lookup = _lookup(ring, normal)
    fp = find_footprint(uow, ring, normal, lake_home=lake_home)
    if fp.total == 0:
        if was_erased(uow, ring, normal):
            raise ConflictError("this data subject has already been erased")
        raise NotFoundError("no data about this e-mail address in this tenant")
    request = open_request(uow, ring, kind=DsarKind.ERASURE, email=normal)
    targets = targets_of(uow, ring, fp)
    held_tables, held_rows, customer_hold = _held(uow, fp)
    replacement = f"erased-{secrets.token_hex(8)}"
    summary: dict[str, dict[str, int]] = {}

    def note(table: str, action: str, n: int) -> None:
        if n:
            summary.setdefault(table, {})[action] = summary.get(table, {}).get(action, 0) + n

    doomed: dict[str, list[uuid.UUID]] = {}
    for table in DELETABLE:
        ids = fp.ids(table)
        keep = [i for i in ids if customer_hold or table in held_tables or i in held_rows]
        note(table, "pseudonymised (legal hold)", _replace(uow, ring, table, keep, replacement))
        doomed[table] = [i for i in ids if i not in set(keep)]
    for table, column, target in DETACH:
        gone = doomed.get(target, [])
        if gone:
            uow.session.execute(
                sa.text(
                    f"UPDATE {table} SET {column} = NULL"
                    f" WHERE tenant_id = :t AND {column} = ANY(:ids)"
                ),
                {"t": tenant, "ids": gone},
            )
    for table in DELETABLE:
        note(table, "deleted", _delete(uow, table, doomed[table]))
    for table in KEPT:
        note(
            table,
            "pseudonymised (retention duty)",
            _replace(uow, ring, table, fp.ids(table), replacement),
        )

    customers = fp.ids("crm.customers")
    referencing = (
        "commerce.bookings",
        "commerce.payments",
        "commerce.invoices",
        "crm.leads",
        "engage.threads",
    )
    union = " UNION ".join(
        f"SELECT customer_id FROM {t} WHERE tenant_id = :t AND customer_id = ANY(:c)"
        for t in referencing
    )
    referenced = set(uow.session.scalars(sa.text(union), {"t": tenant, "c": customers}))
    tombstones = [c for c in customers if c in referenced or customer_hold or c in held_rows]
    note(
        "crm.customers",
        "kept as tombstone",
        _replace(uow, ring, "crm.customers", tombstones, replacement),
    )
    uow.session.execute(
        sa.text(
            "UPDATE crm.customers SET deleted_at = coalesce(deleted_at, now()), tags = '{}'"
            " WHERE tenant_id = :t AND id = ANY(:ids)"
        ),
        {"t": tenant, "ids": tombstones},
    )
    note(
        "crm.customers",
        "deleted",
        _delete(uow, "crm.customers", [c for c in customers if c not in set(tombstones)]),
    )

    # Events are no business record a hold could cover: they go, in the inbox as in the lake.
    note("events.inbox", "deleted", _delete(uow, "events.inbox", fp.ids("events.inbox")))
    note(
        "decisions.decisions",
        "deleted",
        _delete(uow, "decisions.decisions", fp.ids("decisions.decisions")),
    )
    lake_hits = _erase_lake(uow, fp, lake_home, note)
    keys_destroyed = 0
    if fp.subject is not None:
        keys_destroyed = ring.destroy_subject_key(fp.subject.id)
        subject = uow.session.get(Subject, (tenant, fp.subject.id))
        assert subject is not None
        subject.email_bidx = subject.phone_bidx = subject.phone_last4_bidx = None
        subject.pseudonym, subject.erased_at = replacement, uow.clock.now()
        note("privacy.subjects", "erased (keys destroyed, indexes removed)", 1)
    uow.session.execute(
        sa.update(DsarRequest)
        .where(
            DsarRequest.tenant_id == tenant, DsarRequest.requester_bidx == request.requester_bidx
        )
        .values(requester_bidx=lookup)
    )
    # Last, after every change above: the consent journal's outbox trigger may have queued the
    # subject's withdrawal under its old pseudonym while this erasure ran.
    outbox = rows_now(uow, fp, "events.outbox")
    note("events.outbox", "deleted", _delete(uow, "events.outbox", outbox))
    for place in sorted(fp.places() - set(summary)):
        n = len(fp.ids(place)) or len(fp.lake.get(place.removeprefix(LAKE), []))
        note(place, KEPT_AS_IS.get(place, "kept (no personal data left)"), n)
    uow.flush()

    hits = scan(uow, targets, skip=ERASURE_SCAN_SKIPS)
    hits += _residue(uow, ring, fp, replacement) + lake_hits
    if lake_home is not None:  # kept bundles are shredded by now; a plain copy is a hit
        hits += scan_exports(lake_home / "exports", ring, targets)
    body = {
        "request_id": str(request.id),
        "replacement": replacement,
        "summary": summary,
        "keys_destroyed": keys_destroyed,
        "scan_hits": len(hits),
    }
    receipt = ErasureReceipt(
        tenant_id=tenant,
        id=uow.ids(),
        request_id=request.id,
        erased_lookup=lookup,
        replacement=replacement,
        performed_at=uow.clock.now(),
        summary=summary,
        keys_destroyed=keys_destroyed,
        scan_hits=len(hits),
        receipt_hash=hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest(),
    )
    uow.session.add(receipt)
    close_request(
        uow, request, status=DsarStatus.COMPLETED, outcome=f"erased; {len(hits)} scan hit(s)"
    )
    return ErasureResult(receipt, hits)
