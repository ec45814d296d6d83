"""A row's (or a table's, or a tenant's) history from the trail, ready to display.

Reads through a tenant unit of work, so row level security limits it to the bound tenant.
Personal-data values are not in the trail today; each redacted column is shown through a
`PiiReader`. The default one shows `[redacted]`; once the privacy kernel stores values
encrypted under the subject's key (`audit.log.encrypted_values`), an authorised caller passes
a reader that decrypts them. No other module renders audit values.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import sqlalchemy as sa

from tenantry.db.paging import page_limit
from tenantry.db.uow import UnitOfWork
from tenantry.models import AuditEntry

__all__ = ["REDACTED", "Change", "HistoryLine", "PiiReader", "RedactingReader", "row_history"]

REDACTED = "[redacted]"
OPERATIONS = {"I": "insert", "U": "update", "D": "delete", "B": "bulk load"}
_MAX_VALUE = 60
# Shown for inserts only when set: the rest is noise in a history.
_QUIET = frozenset({"tenant_id"})


class PiiReader(Protocol):
    """Reveals a personal-data column of an entry to a caller allowed to see it."""

    def reveal(self, entry: AuditEntry, column: str, *, old: bool) -> str: ...


class RedactingReader:
    """For every caller today: personal data is never shown."""

    def reveal(self, entry: AuditEntry, column: str, *, old: bool) -> str:
        return REDACTED


@dataclass(frozen=True)
class Change:
    column: str
    old: str
    new: str


@dataclass(frozen=True)
class HistoryLine:
    seq: int
    recorded_at: datetime
    actor: str
    operation: str
    table: str
    row_id: str
    changes: tuple[Change, ...]


def _show(values: dict[str, Any] | None, column: str) -> str:
    if values is None or column not in values:
        return ""
    text = json.dumps(values[column], ensure_ascii=False, separators=(",", ":"))
    return text if len(text) <= _MAX_VALUE else text[: _MAX_VALUE - 1] + "…"


def _changes(entry: AuditEntry, reader: PiiReader) -> tuple[Change, ...]:
    redacted = set(entry.redacted_columns)
    out = []
    for column in entry.changed_columns:
        if column in redacted:
            old = reader.reveal(entry, column, old=True) if entry.op != "I" else ""
            new = reader.reveal(entry, column, old=False) if entry.op != "D" else ""
            out.append(Change(column, old, new))
            continue
        old, new = _show(entry.old_values, column), _show(entry.new_values, column)
        if entry.op != "U" and (column in _QUIET or (old or new) in ("", "null")):
            continue
        out.append(Change(column, old, new))
    return tuple(out)


def row_history(
    uow: UnitOfWork,
    *,
    table: str | None = None,
    row_id: str | None = None,
    limit: int = 50,
    reader: PiiReader | None = None,
) -> list[HistoryLine]:
    """The newest `limit` entries of the bound tenant matching the filters, oldest first."""
    tenant: uuid.UUID = uow.require_tenant()
    reader = reader or RedactingReader()
    stmt = sa.select(AuditEntry).where(AuditEntry.tenant_id == tenant)
    if table is not None:
        stmt = stmt.where(AuditEntry.table_name == table)
    if row_id is not None:
        stmt = stmt.where(AuditEntry.row_id == row_id)
    entries = list(
        uow.session.scalars(stmt.order_by(AuditEntry.seq.desc()).limit(page_limit(limit)))
    )
    return [
        HistoryLine(
            seq=e.seq,
            recorded_at=e.recorded_at,
            actor=e.actor,
            operation=OPERATIONS.get(e.op, e.op),
            table=e.table_name,
            row_id=e.row_id,
            changes=_changes(e, reader),
        )
        for e in reversed(entries)
    ]
