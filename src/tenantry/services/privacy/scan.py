"""Proof of erasure: search every column of every table, and the exports folder, for a
subject's identifying values.

Targets are the subject's plaintext values (e-mail, phone, full name, street line, plate,
VIN), their normalised variants, their blind-index values and their analytics pseudonym.
Text, JSON and array columns are searched by case-insensitive substring, binary columns by
equality. Sealed (encrypted) columns hold only ciphertext, so searching their bytes proves
nothing: `deep=True` opens every sealed value of the tenant that a live key can still open and
searches the plaintext too. A hit names table, column and row id, never the value.
"""

from __future__ import annotations

import contextlib
import io
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from tenantry.db.uow import UnitOfWork
from tenantry.errors import ValidationError
from tenantry.lake.erasure import lake_scan, lake_tables
from tenantry.models import Base
from tenantry.privacy.crypto import DecryptionError, normalise_email, normalise_phone
from tenantry.privacy.keys import KeyRing
from tenantry.privacy.sealing import open_platform_value, open_rows, open_value, sealed_columns
from tenantry.privacy.subjects import email_index
from tenantry.privacy.vault import keyring, platform_keys
from tenantry.services.principal import Action, Principal
from tenantry.services.privacy.export import open_bundle, read_header
from tenantry.services.privacy.footprint import LAKE, Footprint, find_footprint

__all__ = [
    "Hit",
    "ScanReport",
    "ScanTargets",
    "scan",
    "scan_exports",
    "scan_sealed",
    "scan_subject",
    "targets_of",
]

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


# Columns whose value identifies a person on its own. Parts (a first name, a city, a postal
# code) do not, and would match other people's rows.
_IDENTIFYING = frozenset(
    {
        "street",
        "event_address",
        "billing_address",
        "license_plate",
        "vin",
        "payer_name",
        "sender_name",
        "billing_name",
        "author_name",
    }
)


def _pii(table: str) -> list[sa.Column[object]]:
    return [c for c in Base.metadata.tables[table].c if "pii" in c.info]


def targets_of(uow: UnitOfWork, ring: KeyRing, fp: Footprint) -> ScanTargets:
    """The subject's identifying values, read (and opened) from its rows before they change."""
    targets = ScanTargets()
    targets.add_email(fp.email)
    for needle in fp.needles:  # how events and the lake know the subject
        targets.add_text(needle)
    for table, ids in fp.rows.items():
        cols = [c for c in _pii(table) if c.info["pii"] not in ("free_text", "secret")]
        if not ids or not cols:
            continue
        for row in open_rows(uow, ring, table, ids):
            first, last = row.get("first_name"), row.get("last_name")
            if first and last:
                targets.add_text(f"{first} {last}")
            for c in cols:
                kind, value = c.info["pii"], row.get(c.name)
                if not isinstance(value, str):
                    continue
                if kind == "email":
                    targets.add_email(value)
                elif kind == "phone":
                    targets.add_phone(value)
                elif c.name in _IDENTIFYING:
                    targets.add_text(value)
    if fp.subject is not None:
        for value in (fp.subject.email_bidx, fp.subject.phone_bidx, fp.subject.phone_last4_bidx):
            targets.add_binary(value)
        targets.add_text(fp.subject.pseudonym)
    return targets


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
                    open_platform_value(platform_keys(uow), table.fullname, column, row.id, row[i])
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


def _zip_members(data: bytes) -> list[tuple[str, bytes]]:
    """The members of a zip archive (compressed text hides from a byte search), or none."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            return [(info.filename, zf.read(info)) for info in zf.infolist()]
    except (zipfile.BadZipFile, OSError, ValueError):
        return []


def scan_exports(folder: Path, ring: KeyRing, targets: ScanTargets) -> list[Hit]:
    """Targets in the files of an exports folder: plain files as bytes (zip archives member
    by member), this tenant's sealed bundles opened while their subject's key exists. A
    bundle whose key was destroyed is shredded: nothing in it can be read, so nothing is hit."""
    texts = [t.encode() for t in targets.texts if len(t) >= _MIN_LENGTH]
    hits: list[Hit] = []
    if not folder.is_dir() or not texts:
        return hits
    for file in sorted(p for p in folder.rglob("*") if p.is_file()):
        name = str(file.relative_to(folder))
        data = file.read_bytes()
        header = read_header(data)
        if header is not None:
            if header.tenant_id != ring.tenant_id:
                continue  # another tenant's subject: not this scan's business
            try:
                data = open_bundle(ring, data)
            except (DecryptionError, ValidationError):  # key destroyed (shredded), or damaged
                continue
        parts = [("", data), *_zip_members(data)]
        for member, content in parts:
            lowered = content.lower()
            if any(t in lowered for t in texts):
                hits.append(Hit("exports", name, member or "file"))
    return hits


@dataclass(frozen=True)
class ScanReport:
    """Where the subject's values still appear, and what was searched."""

    hits: list[Hit]
    tables: int
    lake_tables: int
    exports_searched: bool


def _lake_place(path: str, tables: list[str]) -> str:
    """The lake table a file belongs to (its place name), or the file's folder."""
    for table in tables:
        if path.startswith(table + "/"):
            return LAKE + table
    return LAKE + path.rsplit("/", 1)[0]


def scan_subject(
    uow: UnitOfWork, principal: Principal, email: str, *, home: Path | None = None
) -> ScanReport:
    """Search every column of every table (sealed values opened) and, with `home`
    (`$TENANTRY_HOME`), every byte of the lake and every file of the exports folder, for the
    subject's values: the footprint's values and the pseudonyms events and the lake know it by.
    Lake hits name the lake table (`lake:raw/events`), export hits the file."""
    principal.require(Action.PRIVACY)
    ring = keyring(uow)
    fp: Footprint = find_footprint(uow, ring, email)
    targets = targets_of(uow, ring, fp)
    targets.add_binary(email_index(ring, email))
    hits = scan(uow, targets, skip=frozenset({"privacy.erasure_receipts"}), ring=ring)
    lake: list[str] = []
    if home is not None:
        lake = [str(p.relative_to(home / "lake")) for p in lake_tables(home)]
        hits += [
            Hit(_lake_place(h.path, lake), h.path, f"needle {h.needle_index}")
            for h in lake_scan(home, fp.needles)
        ]
        hits += scan_exports(home / "exports", ring, targets)
    return ScanReport(hits, len(Base.metadata.tables), len(lake), home is not None)
