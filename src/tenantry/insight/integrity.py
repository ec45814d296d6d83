"""Tamper verification of the evidence ledger: do the stored rows still say what was written?

`verify_ledger` checks, for one check or a whole tenant, in the caller's tenant unit of work:

- every retrieval's stored bytes (opened from their seal) still hash to its `content_hash`;
- every piece of evidence carries its retrieval's `content_hash`;
- every retrieval, piece of evidence, statement and citation has its insert in the audit
  trail, and still holds the values recorded there (personal-data columns are redacted in
  the trail and compared through the hash instead); an audited later change is allowed only
  where the ledger allows one (supersession of evidence, a statement going stale);
- the tenant's audit chain itself is intact (`tenantry.audit.verify.verify_chains`).

Reads only; never repairs. A problem names the table, the row and the columns, never a value,
so a report holds no personal data.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

import psycopg
import sqlalchemy as sa

from tenantry.audit.verify import verify_chains
from tenantry.db.uow import UnitOfWork
from tenantry.errors import NotFoundError, TenantryError
from tenantry.models import Base, Retrieval, VisibilityCheck

__all__ = ["PROBLEMS", "IntegrityReport", "LedgerIntegrityError", "Problem", "verify_ledger"]


class LedgerIntegrityError(TenantryError):
    """The evidence ledger failed verification."""


PROBLEMS = {
    "body_hash_mismatch": "the stored bytes do not hash to the recorded content hash",
    "body_unreadable": "the stored bytes cannot be opened (forged, moved or their key destroyed)",
    "body_missing": "the retrieval records bytes but none are stored",
    "evidence_hash_mismatch": "the evidence's content hash differs from its retrieval's",
    "not_audited": "the row has no insert in the audit trail",
    "differs_from_audit": "the row differs from the values the audit trail recorded",
    "changed_after_insert": "the audit trail records a change the ledger does not allow",
    "audit_chain_broken": "the tenant's audit chain is broken",
}

# The ledger's tables, the columns a later (audited) update may change, and the row key the
# trail names a row by (its primary key without tenant_id, joined with commas).
_TABLES: dict[str, tuple[frozenset[str], tuple[str, ...]]] = {
    "insight.retrievals": (frozenset(), ("id",)),
    "insight.evidence": (frozenset({"superseded_at", "superseded_by", "updated_at"}), ("id",)),
    "insight.statements": (frozenset({"status", "stale_at", "updated_at"}), ("id",)),
    "insight.statement_evidence": (frozenset(), ("statement_id", "evidence_id")),
}
_BATCH = 200


@dataclass(frozen=True)
class Problem:
    kind: str  # a key of PROBLEMS
    table: str
    row_id: str
    detail: str

    def describe(self) -> str:
        return f"{self.table} {self.row_id}: {self.detail}"


@dataclass
class IntegrityReport:
    tenant_id: uuid.UUID
    check_id: uuid.UUID | None
    retrievals: int = 0
    evidence: int = 0
    statements: int = 0
    citations: int = 0
    audit_entries: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {
            "tenant_id": str(self.tenant_id),
            "check_id": str(self.check_id) if self.check_id else None,
            "ok": self.ok,
            "checked": {
                "retrievals": self.retrievals,
                "evidence": self.evidence,
                "statements": self.statements,
                "citations": self.citations,
                "audit_entries": self.audit_entries,
            },
            "problems": [
                {"kind": p.kind, "table": p.table, "row_id": p.row_id, "detail": p.detail}
                for p in self.problems
            ],
        }


def verify_ledger(uow: UnitOfWork, check_id: uuid.UUID | None = None) -> IntegrityReport:
    """Verify the ledger of one check (or of the whole tenant when `check_id` is None)."""
    tenant = uow.require_tenant()
    if check_id is not None and uow.session.get(VisibilityCheck, (tenant, check_id)) is None:
        raise NotFoundError("visibility check not found")
    report = IntegrityReport(tenant, check_id)
    scope = _Scope(uow, tenant, check_id)
    _check_bodies(uow, scope, report)
    _check_evidence_hashes(uow, scope, report)
    for table in _TABLES:
        _check_against_trail(uow, scope, table, report)
    _check_chain(uow, tenant, report)
    return report


class _Scope:
    """The ids of the rows under verification, by table."""

    def __init__(self, uow: UnitOfWork, tenant: uuid.UUID, check_id: uuid.UUID | None) -> None:
        self.tenant = tenant
        self.check_id = check_id
        where = "tenant_id = :t" + (" AND visibility_check_id = :c" if check_id else "")
        params = {"t": tenant, "c": check_id}

        def ids(sql: str) -> list[uuid.UUID]:
            return list(uow.session.execute(sa.text(sql), params).scalars())

        self.evidence = ids(f"SELECT id FROM insight.evidence WHERE {where}")
        self.statements = ids(f"SELECT id FROM insight.statements WHERE {where}")
        self.retrievals = ids(
            f"SELECT id FROM insight.retrievals WHERE {where} UNION"
            f" SELECT retrieval_id FROM insight.evidence WHERE {where}"
            " AND retrieval_id IS NOT NULL ORDER BY 1"
        )


def _check_bodies(uow: UnitOfWork, scope: _Scope, report: IntegrityReport) -> None:
    report.retrievals = len(scope.retrievals)
    for chunk in _chunks(scope.retrievals):
        rows = uow.session.scalars(
            sa.select(Retrieval).where(Retrieval.tenant_id == scope.tenant, Retrieval.id.in_(chunk))
        ).all()
        for r in rows:
            problem = _body_problem(r)
            if problem is not None:
                report.problems.append(
                    Problem(problem, "insight.retrievals", str(r.id), PROBLEMS[problem])
                )
            uow.session.expunge(r)  # the bytes can be large: keep one batch at a time


def _body_problem(r: Retrieval) -> str | None:
    if r.body_sealed is None:
        # A failed fetch keeps no bytes; its hash is that of nothing.
        data = b""
        if r.body_bytes:
            return "body_missing"
    else:
        text = r.body
        if text is None:
            return "body_unreadable"
        try:
            data = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            return "body_unreadable"
    return None if hashlib.sha256(data).hexdigest() == r.content_hash else "body_hash_mismatch"


def _check_evidence_hashes(uow: UnitOfWork, scope: _Scope, report: IntegrityReport) -> None:
    report.evidence = len(scope.evidence)
    if not scope.evidence:
        return
    rows = uow.session.execute(
        sa.text(
            "SELECT e.id FROM insight.evidence e JOIN insight.retrievals r"
            " ON r.tenant_id = e.tenant_id AND r.id = e.retrieval_id"
            " WHERE e.tenant_id = :t AND e.id = ANY(:ids) AND e.content_hash <> r.content_hash"
            " ORDER BY e.id"
        ),
        {"t": scope.tenant, "ids": scope.evidence},
    ).scalars()
    for evidence_id in rows:
        report.problems.append(
            Problem(
                "evidence_hash_mismatch",
                "insight.evidence",
                str(evidence_id),
                PROBLEMS["evidence_hash_mismatch"],
            )
        )


def _chunks(ids: Sequence[uuid.UUID]) -> Iterator[Sequence[uuid.UUID]]:
    for start in range(0, len(ids), _BATCH):
        yield ids[start : start + _BATCH]


def _current_rows(uow: UnitOfWork, scope: _Scope, table: str) -> dict[str, dict[str, Any]]:
    """The rows under verification as `to_jsonb` reads them, by their key in the trail."""
    keys = _TABLES[table][1]
    key_sql = "concat_ws(',', " + ", ".join(f"t.{k}::text" for k in keys) + ")"
    if table == "insight.statement_evidence":
        where, ids = "t.statement_id = ANY(:ids)", scope.statements
    else:
        ids = {
            "insight.retrievals": scope.retrievals,
            "insight.evidence": scope.evidence,
            "insight.statements": scope.statements,
        }[table]
        where = "t.id = ANY(:ids)"
    if not ids:
        return {}
    rows = uow.session.execute(
        sa.text(f"SELECT {key_sql}, to_jsonb(t) FROM {table} t WHERE t.tenant_id = :t AND {where}"),
        {"t": scope.tenant, "ids": list(ids)},
    )
    out: dict[str, dict[str, Any]] = {}
    for key, value in rows:
        out[key] = value
    return out


def _check_against_trail(
    uow: UnitOfWork, scope: _Scope, table: str, report: IntegrityReport
) -> None:
    allowed, _keys = _TABLES[table]
    current = _current_rows(uow, scope, table)
    if table == "insight.statement_evidence":
        report.citations = len(current)
    elif table == "insight.statements":
        report.statements = len(current)
    if not current:
        return
    params = {"t": scope.tenant, "table": table, "ids": sorted(current)}
    entries = uow.session.execute(
        sa.text(
            "SELECT row_id, op, changed_columns, new_values FROM audit.log"
            " WHERE tenant_id = :t AND table_name = :table AND row_id = ANY(:ids)"
            " ORDER BY seq"
        ),
        params,
    ).all()
    report.audit_entries += len(entries)
    bulk = set(
        uow.session.execute(
            sa.text(
                "SELECT row_id FROM audit.bulk_rows"
                " WHERE tenant_id = :t AND table_name = :table AND row_id = ANY(:ids)"
            ),
            params,
        ).scalars()
    )
    states: dict[str, dict[str, Any] | None] = {}
    changed: dict[str, set[str]] = {}
    for row_id, op, columns, values in entries:
        if op == "I":
            states[row_id] = dict(values or {})
        elif op == "D":
            states[row_id] = None
        elif op == "U" and states.get(row_id) is not None:
            changed.setdefault(row_id, set()).update(set(columns) - allowed)
            cast(dict[str, Any], states[row_id]).update(values or {})
    for row_id in sorted(current):
        state = states.get(row_id)
        if state is None:
            if row_id not in bulk:  # bulk-loaded rows are checked with the chain's batches
                report.problems.append(
                    Problem("not_audited", table, row_id, PROBLEMS["not_audited"])
                )
            continue
        if changed.get(row_id):
            report.problems.append(
                Problem(
                    "changed_after_insert",
                    table,
                    row_id,
                    f"audited change of {', '.join(sorted(changed[row_id]))}",
                )
            )
        differs = _differences(table, state, current[row_id])
        if differs:
            report.problems.append(
                Problem(
                    "differs_from_audit",
                    table,
                    row_id,
                    f"differs from the audit trail in {', '.join(differs)}",
                )
            )


def _differences(table: str, recorded: dict[str, Any], stored: dict[str, Any]) -> list[str]:
    """Columns whose recorded value (redacted ones are not recorded) differs from the row's."""
    columns = Base.metadata.tables[table].c
    out = []
    for name, value in recorded.items():
        if name not in stored or _normal(columns, name, value) != _normal(
            columns, name, stored[name]
        ):
            out.append(name)
    return sorted(out)


def _normal(columns: Any, name: str, value: Any) -> Any:
    """Timestamps compare as instants: each JSON text carries its writer's time zone."""
    if isinstance(value, str) and name in columns and isinstance(columns[name].type, sa.DateTime):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return value
    return value


def _check_chain(uow: UnitOfWork, tenant: uuid.UUID, report: IntegrityReport) -> None:
    """The tenant's hash chain, read in this transaction (a savepoint undoes the verifier's
    session settings)."""
    conn = cast(psycopg.Connection, uow.session.connection().connection.driver_connection)
    savepoint = uow.session.begin_nested()
    try:
        chains = verify_chains(conn, tenant=tenant, jobs=1)
    finally:
        savepoint.rollback()
    for broken in chains.breaks:
        report.problems.append(
            Problem(
                "audit_chain_broken",
                "audit.log",
                str(broken.seq) if broken.seq is not None else "-",
                broken.describe(),
            )
        )
