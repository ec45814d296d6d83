"""Proof of erasure: search every column of every table for a subject's identifying values.

Targets are the subject's plaintext values (e-mail, phone, full name, street line, plate,
VIN), their normalised variants, their blind-index values and their analytics pseudonym.
Text, JSON and array columns are searched by case-insensitive substring, binary columns by
equality. Sealed (encrypted) columns hold only ciphertext, so searching their bytes proves
nothing: `deep=True` opens every sealed value of the tenant that a live key can still open and
searches the plaintext too. A hit names table, column and row id, never the value.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from tenantry.db.uow import UnitOfWork
from tenantry.errors import ValidationError
from tenantry.models import Base
from tenantry.privacy.crypto import normalise_email, normalise_phone
from tenantry.privacy.keys import KeyRing
from tenantry.privacy.sealing import open_platform_value, open_value, sealed_columns

__all__ = ["Hit", "ScanTargets", "scan", "scan_sealed"]

_TEXTUAL = (sa.String, sa.Text, postgresql.JSONB, sa.JSON, postgresql.ARRAY)
_MIN_LENGTH = 5  # shorter strings (a postal code, "Köln") identify no one and match anyone


@dataclass
class ScanTargets:
    texts: set[str] = field(default_factory=set)
    binaries: set[bytes] = field(default_factory=set)

    def add_email(self, email: str | None) -> None:
        if email:
            try:
                self.texts.add(normalise_email(email))
            except ValidationError:  # not an address: searched for as it was given
                self.texts.add(email.strip())

    def add_phone(self, phone: str | None) -> None:
        if phone:
            self.texts.add(phone.strip().lower())
            digits = re.sub(r"\D", "", phone)
            if len(digits) >= _MIN_LENGTH:
                self.texts.add(digits)
            with contextlib.suppress(ValidationError):
                self.texts.add(normalise_phone(phone))

    def add_text(self, value: str | None) -> None:
        if value and len(value.strip()) >= _MIN_LENGTH:
            self.texts.add(value.strip().lower())

    def add_binary(self, value: bytes | None) -> None:
        if value:
            self.binaries.add(value)
            self.texts.add(value.hex())


@dataclass(frozen=True)
class Hit:
    table: str
    column: str
    row: str


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _may_contain_text(column: sa.Column[Any]) -> bool:
    """Free text that could hold a target: not a value from a fixed set (CHECK-constrained
    enum), not too short for one, not a keyed hash, not ciphertext."""
    if not isinstance(column.type, _TEXTUAL) or isinstance(column.type, sa.Enum):
        return False
    if column.info.get("pii") == "keyed_hash":
        return False
    length = getattr(column.type, "length", None)
    return length is None or length >= _MIN_LENGTH


def _holds_text_hash(column: sa.Column[Any]) -> bool:
    """A pseudonym column: matched by equality (indexed), never by substring."""
    return isinstance(column.type, _TEXTUAL) and column.info.get("pii") == "keyed_hash"


def _may_hold_hash(column: sa.Column[Any]) -> bool:
    """A binary column that can hold a blind index: not ciphertext, not a wrapped key (both
    are longer than any 32-byte hash and would never be equal to one)."""
    if not isinstance(column.type, sa.LargeBinary) or column.info.get("sealed"):
        return False
    return column.info.get("pii") != "key_material"


def scan_sealed(
    uow: UnitOfWork, ring: KeyRing, targets: ScanTargets, *, skip: frozenset[str] = frozenset()
) -> list[Hit]:
    """Targets inside the tenant's sealed values (opened in Python, one table at a time)."""
    texts = [t for t in targets.texts if len(t) >= _MIN_LENGTH]
    hits: list[Hit] = []
    if not texts:
        return hits
    for table in sorted(Base.metadata.tables.values(), key=lambda t: t.fullname):
        columns = sealed_columns(table.fullname)
        if not columns or table.fullname in skip:
            continue
        subject = "subject_id" if "subject_id" in table.c else "NULL::uuid"
        platform = "tenant_id" not in table.c  # staff accounts: rows of the tenant's members
        rows = uow.session.execute(
            sa.text(
                f"SELECT id, {subject} AS subject_id, {', '.join(columns)} FROM {table.fullname}"
                + ("" if platform else " WHERE tenant_id = :t")
            ),
            {"t": uow.require_tenant()},
        ).all()
        ring.preload_subject_keys({r.subject_id for r in rows if r.subject_id is not None})
        for row in rows:
            for i, column in enumerate(columns, start=2):
                value = (
                    open_platform_value(uow.platform_keys, table.fullname, column, row.id, row[i])
                    if platform
                    else open_value(ring, table.fullname, column, row.id, row.subject_id, row[i])
                )
                if value is not None and any(t in value.lower() for t in texts):
                    hits.append(Hit(table.fullname, column, str(row.id)))
    return hits


def scan(
    uow: UnitOfWork,
    targets: ScanTargets,
    *,
    skip: frozenset[str] = frozenset(),
    ring: KeyRing | None = None,
) -> list[Hit]:
    """Every place in the tenant's data (and global tables) where a target still appears;
    with a key ring, inside sealed values too (`scan_sealed`)."""
    patterns = [f"%{_escape(t)}%" for t in sorted(targets.texts) if len(t) >= _MIN_LENGTH]
    binaries = sorted(targets.binaries)
    hits: list[Hit] = []
    readable = set(
        uow.session.scalars(
            sa.text(
                "SELECT n.nspname || '.' || c.relname FROM pg_class c"
                " JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE c.relkind IN ('r', 'p') AND has_table_privilege(c.oid, 'SELECT')"
            )
        )
    )
    params = {
        "patterns": patterns,
        "exact": sorted(targets.texts),
        "binaries": binaries,
        "tenant": uow.require_tenant(),
    }
    for table in sorted(Base.metadata.tables.values(), key=lambda t: t.fullname):
        # Tables the role cannot read (audit checkpoints: hashes and signatures only) are
        # outside what this subject's data can have reached through the application.
        if table.fullname in skip or table.fullname not in readable:
            continue
        key = "id" if "id" in table.c else next(iter(table.primary_key.columns)).name
        textual = [c.name for c in table.c if _may_contain_text(c)] if patterns else []
        exact = [c.name for c in table.c if _holds_text_hash(c)] if patterns else []
        binary = [c.name for c in table.c if _may_hold_hash(c)] if binaries else []
        if not textual and not exact and not binary:
            continue
        tests = {c: f"lower(t.{c}::text) LIKE ANY(:patterns)" for c in textual}
        tests |= {c: f"t.{c} = ANY(:exact)" for c in exact}
        tests |= {c: f"t.{c} = ANY(:binaries)" for c in binary}
        # One pass over the table: the text columns are matched as one string per row (the
        # separator cannot occur in a pattern, so no match spans two columns); the per-column
        # flags are only computed for the rows that match.
        conds = []
        if textual:
            joined = ", ".join(f"t.{c}::text" for c in textual)
            conds.append(f"lower(concat_ws(chr(31), {joined})) LIKE ANY(:patterns)")
        conds += [tests[c] for c in exact + binary]
        where = " OR ".join(f"({c})" for c in conds)
        if "tenant_id" in table.c:
            where = f"t.tenant_id = :tenant AND ({where})"
        flags = ", ".join(f"coalesce({cond}, false) AS {name}" for name, cond in tests.items())
        rows = uow.session.execute(
            sa.text(
                f"SELECT t.{key}::text AS row_key, {flags} FROM {table.fullname} t"
                f" WHERE {where} LIMIT 1000"
            ),
            params,
        ).mappings()
        for row in rows:
            hits.extend(Hit(table.fullname, name, row["row_key"]) for name in tests if row[name])
    if ring is not None:
        hits += scan_sealed(uow, ring, targets, skip=skip)
    return hits
