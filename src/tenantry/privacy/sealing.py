"""The sealer: encrypts staged personal data before each flush and decrypts loaded rows.

Every unit of work that may touch personal data carries one `FieldSealer` (in
`session.info`). Before a flush it gives rows about a person their data subject (found by the
blind index of the e-mail or phone, or inherited from the row they belong to, such as a
vehicle's owner), then seals each staged value under that subject's data key, or under the
tenant's records key for rows about no one in particular (OAuth tokens); staff accounts, which
no tenant owns, under the platform keys. After a load it opens all loaded rows in one batch:
one query fetches every subject key needed.

A value whose subject key has been destroyed opens as None: that is what crypto-shredding
means for a copy that survived somewhere. Nothing here logs or returns ciphertext metadata that
could identify a person.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterable
from functools import partial
from typing import Any

import sqlalchemy as sa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy.orm import Session

from tenantry.errors import ConfigurationError, ValidationError
from tenantry.models.sealed import (
    SealedField,
    has_plaintext,
    pending_plaintext,
    remember_plaintext,
    sealed_fields,
)
from tenantry.privacy.crypto import (
    DecryptionError,
    KeyDestroyedError,
    blind_index,
    derive_key,
    field_aad,
    key_version_of,
    normalise_email,
    normalise_phone,
    open_,
    open_with,
    seal,
)
from tenantry.privacy.keys import KeyRing, PlatformKeys, subject_key_aad
from tenantry.privacy.master import OpenedSubjectKeys
from tenantry.privacy.subjects import (
    email_index,
    find_or_insert_subject,
    find_or_insert_subjects,
    lock_phone,
    phone_index,
)

__all__ = [
    "FetchedKeys",
    "FieldSealer",
    "field_index",
    "normalise_identifier",
    "open_json_row",
    "open_platform_value",
    "open_rows",
    "open_value",
    "seal_value",
    "sealed_columns",
]


def normalise_identifier(value: str) -> str:
    """Plates and similar identifiers: upper case, letters and digits only."""
    return re.sub(r"[^0-9A-Z]", "", value.upper())


def _normalise(field: SealedField, value: str) -> str:
    if field.kind == "email":
        return normalise_email(value)
    if field.kind == "phone":
        return normalise_phone(value)
    return normalise_identifier(value)


def field_index(ring: KeyRing, field: SealedField, value: str) -> bytes:
    """The blind index a sealed field stores for `value` (normalised as every write does), to
    look rows up by it; a value that normalises to nothing is refused."""
    normalised = _normalise(field, value)
    if not normalised:
        raise ValidationError(f"not a usable {field.name.replace('_', ' ')}")
    return blind_index(ring.field_index_key(field.name), normalised)


def seal_value(
    ring: KeyRing,
    table: str,
    column: str,
    row_id: uuid.UUID,
    subject_id: uuid.UUID | None,
    plaintext: str,
) -> bytes:
    """Seal one value for `table.column` of row `row_id` (subject key, or the records key)."""
    aad = field_aad(table, column, ring.tenant_id, row_id)
    if subject_id is None:
        version = ring.active_version()
        return seal(ring.records_key(version), plaintext.encode(), aad, version=version)
    version, key = ring.subject_key(subject_id)
    return seal(key, plaintext.encode(), aad, version=version)


class FetchedKeys:
    """Subject keys read in the same statement as the rows (`LEFT JOIN LATERAL`), no session.

    For reads that run without a unit of work (the API's read endpoints): the statement
    returns each row's subject key as stored (current version, wrapping version, wrapped key,
    NULL once destroyed) and the caller supplies the tenant's unwrapped wrapping keys by
    version. `open_row` opens a row's sealed values with the rules of `open_value`: a
    destroyed key, a value written under an older subject key or a moved ciphertext open as
    None; so does a subject without any key row (`open_value` reports that key as not
    found). Each key's cipher is built once per read, not once per value, and with `opened`
    once per wrapped key while it is held there.
    """

    def __init__(
        self,
        tenant_id: uuid.UUID,
        wrapping: dict[int, bytes],
        opened: OpenedSubjectKeys | None = None,
    ) -> None:
        self._tenant_id = tenant_id
        self._tenant_text = str(tenant_id)
        self._wrapping = wrapping
        self._opened = opened
        self._unwrap: dict[int, AESGCM] = {}
        self._records: dict[int, AESGCM] = {}
        self._subjects: dict[uuid.UUID, tuple[int, AESGCM | None]] = {}

    def add_subject(
        self, subject_id: uuid.UUID, version: int, wrapping_version: int, wrapped: bytes | None
    ) -> None:
        """Unwrap a subject's key as its row returned it (NULL: destroyed)."""
        if subject_id in self._subjects:
            return
        if wrapped is None:  # destroyed (crypto-shredded)
            self._subjects[subject_id] = _NO_KEY
            return
        # Everything the unwrap depends on: the same bytes unwrap to the same key.
        memo = (self._tenant_id, subject_id, version, wrapping_version, wrapped)
        cipher = self._opened.get(memo) if self._opened is not None else None
        if cipher is None:
            unwrap = self._unwrap.get(wrapping_version)
            if unwrap is None:
                unwrap = AESGCM(self._wrapping[wrapping_version])
                self._unwrap[wrapping_version] = unwrap
            # The tenant's id as text, formatted once per read (the same bytes either way).
            aad = subject_key_aad(self._tenant_text, subject_id, version)
            cipher = AESGCM(open_with(unwrap, wrapped, aad))
            if self._opened is not None:
                self._opened.put(memo, cipher)
        self._subjects[subject_id] = (version, cipher)

    def _records_cipher(self, version: int) -> AESGCM:
        cipher = self._records.get(version)
        if cipher is None:
            key = derive_key(self._wrapping[version], "records")
            cipher = self._records[version] = AESGCM(key)
        return cipher

    def open_row(
        self,
        table: str,
        row_id: uuid.UUID,
        subject_id: uuid.UUID | None,
        sealed: Iterable[tuple[str, bytes | None]],
    ) -> dict[str, str | None]:
        """The plaintext of one row's sealed columns, by column name."""
        # The subject's key is looked up once per row, not once per value (a list opens
        # thousands of values).
        subject_key = None if subject_id is None else self._subjects.get(subject_id, _NO_KEY)
        tail = f"|{self._tenant_text}|{row_id}".encode()
        opened: dict[str, str | None] = {}
        for column, ciphertext in sealed:
            opened[column] = None
            if ciphertext is None:
                continue
            try:
                written_under = key_version_of(ciphertext)
                if subject_key is None:
                    cipher = self._records_cipher(written_under)
                elif subject_key[0] == written_under and subject_key[1] is not None:
                    cipher = subject_key[1]
                else:  # destroyed, missing, or an older key's value: opens as None
                    continue
                aad = f"{table}|{column}".encode() + tail  # = field_aad(...)
                opened[column] = open_with(cipher, ciphertext, aad).decode()
            except DecryptionError:  # not a tenantry ciphertext, or not this row's
                continue
        return opened


_NO_KEY: tuple[int, None] = (-1, None)  # a subject whose key is destroyed or missing


def open_value(
    ring: KeyRing,
    table: str,
    column: str,
    row_id: uuid.UUID,
    subject_id: uuid.UUID | None,
    ciphertext: bytes | None,
) -> str | None:
    """Open one value; None when there is none or its key was destroyed (crypto-shredded)."""
    if ciphertext is None:
        return None
    aad = field_aad(table, column, ring.tenant_id, row_id)
    try:
        written_under = key_version_of(ciphertext)
    except DecryptionError:  # not a tenantry ciphertext at all
        return None
    if subject_id is None:
        key = ring.records_key(written_under)
    else:
        try:
            version, key = ring.subject_key(subject_id)
        except KeyDestroyedError:
            return None
        if written_under != version:
            return None
    try:
        return open_(key, ciphertext, aad).decode()
    except DecryptionError:  # not this row's ciphertext (moved or forged)
        return None


def sealed_columns(table: str) -> list[str]:
    """Database names of the sealed columns of `table`."""
    from tenantry.models import Base

    return [c.name for c in Base.metadata.tables[table].c if c.info.get("sealed")]


def open_json_row(ring: KeyRing, table: str, row: dict[str, Any]) -> dict[str, Any]:
    """A row read with `to_jsonb` (bytea as "\\x..." text), its sealed columns opened."""
    out = dict(row)
    subject = row.get("subject_id")
    subject_id = uuid.UUID(subject) if subject else None
    for column in sealed_columns(table):
        value = row.get(column)
        if isinstance(value, str) and value.startswith("\\x"):
            ciphertext = bytes.fromhex(value[2:])
            row_id = uuid.UUID(str(row["id"]))
            out[column] = open_value(ring, table, column, row_id, subject_id, ciphertext)
    return out


def open_rows(uow: Any, ring: KeyRing, table: str, ids: list[uuid.UUID]) -> list[dict[str, Any]]:
    """The rows with these ids as dicts, sealed columns opened."""
    if not ids:
        return []
    rows = uow.session.execute(
        sa.text(
            f"SELECT to_jsonb(t) FROM {table} t"
            " WHERE t.tenant_id = :tenant AND t.id = ANY(:ids) ORDER BY t.id"
        ),
        {"tenant": ring.tenant_id, "ids": ids},
    ).scalars()
    return [open_json_row(ring, table, row) for row in rows]


def open_platform_value(
    platform: PlatformKeys, table: str, column: str, row_id: uuid.UUID, ciphertext: bytes | None
) -> str | None:
    """Open a value sealed under the platform records key (staff accounts)."""
    if ciphertext is None:
        return None
    aad = field_aad(table, column, PlatformKeys.SCOPE, row_id)
    try:
        written_under = key_version_of(ciphertext)
    except DecryptionError:  # not a tenantry ciphertext at all
        return None
    key = platform.data_key(written_under)
    try:
        return open_(key, ciphertext, aad).decode()
    except DecryptionError:  # not this row's ciphertext (moved or forged)
        return None


def _write(
    obj: Any,
    staged: dict[str, str | None],
    sealed: Callable[[str, str], bytes],
    index_key: Callable[[str], bytes],
) -> None:
    """Set each staged field's ciphertext (and blind index, where it has one) on `obj`."""
    fields = sealed_fields(type(obj))
    for name, value in staged.items():
        field = fields[name]
        setattr(obj, field.column_attr, None if value is None else sealed(name, value))
        if field.blind_index is not None:
            index = None
            if value is not None:
                index = blind_index(index_key(name), _normalise(field, value))
            setattr(obj, field.blind_index, index)


class FieldSealer:
    """Seals and opens the sealed fields of one unit of work's objects."""

    def __init__(self, ring: KeyRing | None, platform: PlatformKeys) -> None:
        self._ring = ring
        self.platform = platform
        self._loaded: list[object] = []
        self._subjects_by_index: dict[bytes, uuid.UUID] = {}
        self._staged: dict[tuple[str, object], Any] = {}
        self._new: set[int] = set()  # ids of the objects new in the flush being sealed

    @property
    def ring(self) -> KeyRing:
        """The tenant's keys; personal data of a tenant needs a unit of work bound to it."""
        if self._ring is None:
            raise ConfigurationError(
                "personal data can only be written in a unit of work bound to a tenant"
            )
        return self._ring

    @staticmethod
    def _platform_scoped(obj: object) -> bool:
        return getattr(type(obj), "__sealed_scope__", "tenant") == "platform"

    def _seal_platform(self, obj: Any, staged: dict[str, str | None]) -> None:
        """Staff accounts: sealed under the platform data key, indexed by the platform key."""
        if getattr(obj, "id", None) is None:
            obj.id = self.platform.uow.ids()
        table = obj.__table__.fullname
        version = self.platform.active_version()

        def sealed(name: str, value: str) -> bytes:
            aad = field_aad(table, name, PlatformKeys.SCOPE, obj.id)
            return seal(self.platform.data_key(version), value.encode(), aad, version=version)

        _write(obj, staged, sealed, self.platform.field_index_key)

    def _open_platform(self, obj: Any) -> dict[str, str | None]:
        table = obj.__table__.fullname
        return {
            name: open_platform_value(
                self.platform, table, name, obj.id, obj.__dict__.get(field.column_attr)
            )
            for name, field in sealed_fields(type(obj)).items()
        }

    # -- writing ---------------------------------------------------------------------------

    def seal_pending(self, session: Any) -> None:
        # New rows by (table, id): a row's parent may be written in this same flush.
        self._staged = {
            (o.__table__.fullname, o.id): o
            for o in session.new
            if hasattr(o, "__table__") and getattr(o, "id", None) is not None
        }
        self._prefetch_subjects(session)
        new = list(session.new)  # `session.new` builds a set on each access: take it once
        self._new = {id(o) for o in new}
        subjects = {o.subject_id for o in new if getattr(o, "subject_id", None) is not None}
        if subjects and self._ring is not None:  # every known subject's key in one statement
            self.ring.preload_subject_keys(subjects)
        for obj in [*new, *session.dirty]:
            fields = sealed_fields(type(obj))
            if not fields:
                continue
            if self._platform_scoped(obj):
                staged = pending_plaintext(obj)
                if staged:
                    self._seal_platform(obj, staged)
                continue
            staged = pending_plaintext(obj) | self._moved_to_another_subject(obj, fields)
            if not staged:
                continue
            if getattr(obj, "tenant_id", None) is None:
                obj.tenant_id = self.ring.tenant_id
            if getattr(obj, "id", None) is None:
                obj.id = self.ring.uow.ids()
            if hasattr(obj, "subject_id") and obj.subject_id is None and id(obj) in self._new:
                obj.subject_id = self._subject_for(session, obj)
            elif id(obj) not in self._new:
                self._follow_contact_change(obj, fields, staged)
            _write(obj, staged, partial(self._seal_tenant_value, obj), self.ring.field_index_key)

    def _seal_tenant_value(self, obj: Any, name: str, value: str) -> bytes:
        subject_id = getattr(obj, "subject_id", None)
        return seal_value(self.ring, obj.__table__.fullname, name, obj.id, subject_id, value)

    def _follow_contact_change(
        self, obj: Any, fields: dict[str, SealedField], staged: dict[str, str | None]
    ) -> None:
        """A stored row's new e-mail or phone becomes its subject's lookup value, so a request
        by the new address finds the person (unless another live subject already has it)."""
        from tenantry.models import Subject

        for name in getattr(type(obj), "__subject_from__", ()):
            value = staged.get(name)
            if not value or getattr(obj, "subject_id", None) is None:
                continue
            kind = fields[name].kind
            try:
                if kind == "email":
                    updates = {"email_bidx": email_index(self.ring, value)}
                else:
                    full, last4 = phone_index(self.ring, value)
                    updates = {"phone_bidx": full, "phone_last4_bidx": last4}
            except ValidationError:
                continue
            column = Subject.email_bidx if kind == "email" else Subject.phone_bidx
            taken = sa.select(Subject.id).where(
                Subject.tenant_id == self.ring.tenant_id,
                Subject.erased_at.is_(None),
                Subject.id != obj.subject_id,
                column == next(iter(updates.values())),
            )
            self.ring.uow.session.execute(
                sa.update(Subject)
                .where(
                    Subject.tenant_id == self.ring.tenant_id,
                    Subject.id == obj.subject_id,
                    ~sa.exists(taken),
                )
                .values(**updates)
            )

    def _moved_to_another_subject(
        self, obj: Any, fields: dict[str, SealedField]
    ) -> dict[str, str | None]:
        """A stored row whose `subject_id` changed: its values, opened under the old subject's
        key, to be sealed again under the new one (or the records key)."""
        if not hasattr(obj, "subject_id") or id(obj) in self._new:
            return {}
        history = sa.inspect(obj).attrs.subject_id.history
        if not history.has_changes():
            return {}
        old = history.deleted[0] if history.deleted else None
        table = obj.__table__.fullname
        values: dict[str, str | None] = {}
        for name, field in fields.items():
            if has_plaintext(obj, name):
                values[name] = field.__get__(obj, type(obj))
            else:
                ciphertext = obj.__dict__.get(field.column_attr)
                values[name] = open_value(self.ring, table, name, obj.id, old, ciphertext)
        return values

    def _subject_for(self, session: Session, obj: Any) -> uuid.UUID | None:
        email, phone = _contact(obj, sealed_fields(type(obj)))
        if email or phone:
            return self._subject_by_contact(email, phone)
        for column, table in type(obj).__subject_parents__:
            parent = getattr(obj, column)
            if parent is None:
                continue
            staged_parent = self._staged.get((table, parent))
            if staged_parent is not None:  # written in this same flush: not in the table yet
                if getattr(staged_parent, "subject_id", None) is None:
                    staged_parent.subject_id = self._subject_for(session, staged_parent)
                if staged_parent.subject_id is not None:
                    return staged_parent.subject_id  # type: ignore[no-any-return]
                continue
            found = session.execute(
                sa.text(f"SELECT subject_id FROM {table} WHERE tenant_id = :t AND id = :id"),
                {"t": self.ring.tenant_id, "id": parent},
            ).scalar_one_or_none()
            if found is not None:
                return found  # type: ignore[no-any-return]
        return None

    def _prefetch_subjects(self, session: Session) -> None:
        """Resolve the subjects of a flush's new rows before the first of them is written.

        The first audited statement of a transaction holds the tenant's audit chain head until
        commit. So that a transaction's first writing flush (a batch of captures is one) never
        waits for a lock (a phone's advisory lock, a concurrent creator's e-mail) while holding
        it, everything its subjects need is taken first: the
        advisory locks of phone-only contacts, in order, then every subject by e-mail in one
        statement. One statement is also one audit append per table, not one per contact (a
        batch of captured leads). Rows left out (no usable contact) take the one-by-one path.
        """
        if self._ring is None:
            return
        contacts: list[tuple[str, str | None]] = []
        seen: set[bytes] = set()
        phones: list[bytes] = []
        for obj in session.new:
            fields = sealed_fields(type(obj))
            if (
                not fields
                or not getattr(type(obj), "__subject_from__", ())
                or obj.subject_id is not None
                or self._platform_scoped(obj)
            ):
                continue
            email, phone = _contact(obj, fields)
            try:
                index = email_index(self.ring, email) if email else None
            except ValidationError:
                index = None
            if index is not None:
                if index not in self._subjects_by_index and index not in seen:
                    seen.add(index)
                    contacts.append((email, phone))  # type: ignore[arg-type]
                continue
            try:
                full = phone_index(self.ring, phone)[0] if phone else None
            except ValidationError:
                full = None
            if full is not None and full not in self._subjects_by_index:
                phones.append(full)
        if phones:
            lock_phone(self.ring.uow, phones)
        if contacts:
            self._subjects_by_index.update(
                find_or_insert_subjects(self.ring.uow, self.ring, contacts)
            )

    def _subject_by_contact(self, email: str | None, phone: str | None) -> uuid.UUID:
        """The live subject with this e-mail (else phone), created when there is none yet."""
        try:
            index = (
                email_index(self.ring, email) if email else phone_index(self.ring, phone or "")[0]
            )
        except ValidationError:
            if email and phone:
                return self._subject_by_contact(None, phone)
            raise
        cached = self._subjects_by_index.get(index)
        if cached is None:
            cached = find_or_insert_subject(self.ring.uow, self.ring, email=email, phone=phone)
            self._subjects_by_index[index] = cached
        return cached

    # -- reading ---------------------------------------------------------------------------

    def loaded(self, obj: object) -> None:
        self._loaded.append(obj)

    def open_loaded(self) -> None:
        """Decrypt every loaded object not yet opened, fetching all their keys at once."""
        loaded, self._loaded = self._loaded, []
        batch = []
        for obj in loaded:
            if self._platform_scoped(obj):
                remember_plaintext(obj, self._open_platform(obj), self)
            else:
                batch.append(obj)
        if not batch:
            return
        self.ring.preload_subject_keys(
            {s for obj in batch if (s := getattr(obj, "subject_id", None)) is not None}
        )
        for obj in batch:
            table = obj.__table__.fullname  # type: ignore[attr-defined]
            subject_id = getattr(obj, "subject_id", None)
            values: dict[str, str | None] = {}
            for name, field in sealed_fields(type(obj)).items():
                ciphertext = obj.__dict__.get(field.column_attr)
                values[name] = open_value(
                    self.ring,
                    table,
                    obj.__table__.c[name].name,  # type: ignore[attr-defined]
                    obj.id,  # type: ignore[attr-defined]
                    subject_id,
                    ciphertext,
                )
            remember_plaintext(obj, values, self)


def _contact(obj: Any, fields: dict[str, SealedField]) -> tuple[str | None, str | None]:
    """The e-mail and phone a new row names its data subject by (its `__subject_from__`)."""
    email = phone = None
    for name in type(obj).__subject_from__:
        value = fields[name].__get__(obj, type(obj))
        if value and fields[name].kind == "email":
            email = value
        elif value and fields[name].kind == "phone":
            phone = value
    return email, phone
