"""Data subjects: found by blind index of their e-mail or phone, never by the value itself.

A subject is created with its own data key and an analytics pseudonym (keyed HMAC under the
tenant's indexing key). The same e-mail in two tenants yields different blind indexes and
pseudonyms, because the keys are derived per tenant.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

import sqlalchemy as sa

from tenantry.db.uow import UnitOfWork
from tenantry.errors import ValidationError
from tenantry.models import Subject
from tenantry.models.enums import SubjectKind
from tenantry.privacy.crypto import blind_index, normalise_email, normalise_phone, pseudonym
from tenantry.privacy.keys import KeyRing

__all__ = [
    "email_index",
    "find_or_insert_phone_subjects",
    "find_or_insert_subject",
    "find_or_insert_subjects",
    "find_subject",
    "lock_phone",
    "new_subject",
    "phone_index",
    "resolve_subject",
]


def email_index(ring: KeyRing, email: str) -> bytes:
    return blind_index(ring.field_index_key("email"), normalise_email(email))


def phone_index(ring: KeyRing, phone: str) -> tuple[bytes, bytes]:
    """Blind indexes of the full E.164 number and of its last four digits."""
    e164 = normalise_phone(phone)
    return (
        blind_index(ring.field_index_key("phone"), e164),
        blind_index(ring.field_index_key("phone_last4"), e164[-4:]),
    )


def find_subject(
    uow: UnitOfWork, ring: KeyRing, *, email: str | None = None, phone: str | None = None
) -> Subject | None:
    """The live subject with this e-mail (preferred) or phone, if any."""
    live = (Subject.tenant_id == uow.require_tenant(), Subject.erased_at.is_(None))
    if email is not None:
        stmt = sa.select(Subject).where(*live, Subject.email_bidx == email_index(ring, email))
        return uow.session.scalars(stmt).one_or_none()
    if phone is not None:
        full, _last4 = phone_index(ring, phone)
        stmt = sa.select(Subject).where(*live, Subject.phone_bidx == full).limit(1)
        return uow.session.scalars(stmt).first()
    raise ValidationError("an e-mail address or a phone number is needed")


def resolve_subject(
    uow: UnitOfWork,
    ring: KeyRing,
    *,
    email: str | None = None,
    phone: str | None = None,
    kind: SubjectKind = SubjectKind.PERSON,
) -> Subject:
    """Find the subject or create it with a fresh data key."""
    found = find_subject(uow, ring, email=email, phone=phone)
    if found is not None:
        if phone is not None and found.phone_bidx is None:
            found.phone_bidx, found.phone_last4_bidx = phone_index(ring, phone)
        return found
    subject = new_subject(uow, ring, email=email, phone=phone, kind=kind)
    uow.flush()
    return subject


def subject_values(
    uow: UnitOfWork,
    ring: KeyRing,
    *,
    email: str | None = None,
    phone: str | None = None,
    kind: SubjectKind = SubjectKind.PERSON,
) -> dict[str, object]:
    """Column values of a new subject (blind indexes, pseudonym) with a fresh id."""
    subject_id = uow.ids()
    full, last4 = phone_index(ring, phone) if phone is not None else (None, None)
    return {
        "tenant_id": uow.require_tenant(),
        "id": subject_id,
        "kind": kind,
        "email_bidx": email_index(ring, email) if email is not None else None,
        "phone_bidx": full,
        "phone_last4_bidx": last4,
        "pseudonym": pseudonym(ring.pseudonym_key(), subject_id),
    }


def new_subject(
    uow: UnitOfWork,
    ring: KeyRing,
    *,
    email: str | None = None,
    phone: str | None = None,
    kind: SubjectKind = SubjectKind.PERSON,
) -> Subject:
    """Stage a new subject with a fresh data key (written by the next flush)."""
    subject = Subject(**subject_values(uow, ring, email=email, phone=phone, kind=kind))
    uow.session.add(subject)
    uow.flush()
    ring.create_subject_key(subject.id)
    return subject


_FIND_OR_CREATE = """
WITH found AS (
    SELECT id FROM privacy.subjects
    WHERE tenant_id = :tenant_id AND erased_at IS NULL AND {column} = :lookup LIMIT 1
), filled AS (
    -- A subject found by e-mail that has no phone yet learns this one (so a search by phone
    -- finds it). SKIP LOCKED: never wait on a row another writer holds (it may hold the
    -- tenant's audit chain, which this update's audit entry then needs).
    UPDATE privacy.subjects s
    SET phone_bidx = CAST(:phone_bidx AS bytea), phone_last4_bidx = CAST(:phone_last4_bidx AS bytea)
    WHERE s.tenant_id = :tenant_id AND CAST(:phone_bidx AS bytea) IS NOT NULL
      AND s.id IN (
          SELECT l.id FROM privacy.subjects l JOIN found f ON f.id = l.id
          WHERE l.tenant_id = :tenant_id AND l.phone_bidx IS NULL
          FOR UPDATE OF l SKIP LOCKED
      )
    RETURNING s.id
), created AS (
    INSERT INTO privacy.subjects
        (tenant_id, id, kind, email_bidx, phone_bidx, phone_last4_bidx, pseudonym)
    SELECT :tenant_id, :id, :kind, :email_bidx, :phone_bidx, :phone_last4_bidx, :pseudonym
    WHERE NOT EXISTS (SELECT 1 FROM found)
    ON CONFLICT DO NOTHING
    RETURNING id
), keyed AS (
    INSERT INTO privacy.subject_keys (tenant_id, subject_id, version, wrapped_key, wrapping_version)
    SELECT :tenant_id, id, :version, :wrapped_key, :wrapping_version FROM created
    RETURNING subject_id
)
SELECT id FROM found UNION ALL SELECT subject_id FROM keyed
"""


def lock_phone(uow: UnitOfWork, phone_indexes: Iterable[bytes]) -> None:
    """Take the transaction's advisory locks that serialise creators of these phone subjects.

    Taken in a fixed order, so two transactions locking several never wait for each other
    crosswise. A transaction may take the same lock again (it is held once, until its end).
    """
    for key in sorted({int.from_bytes(index[:8], "big", signed=True) for index in phone_indexes}):
        uow.session.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})


def find_or_insert_subject(
    uow: UnitOfWork, ring: KeyRing, *, email: str | None = None, phone: str | None = None
) -> uuid.UUID:
    """The live subject with this e-mail (else phone), inserted with its key when missing.

    One statement (a round trip matters on every new customer), run with Core so it is safe
    inside a flush, where the ORM could not order a staged subject before the rows that
    reference it. A concurrent creator of the same subject wins; this then reads its row.
    """
    values = subject_values(uow, ring, email=email, phone=phone)
    column, lookup = ("email_bidx", values["email_bidx"])
    if email is None:
        column, lookup = ("phone_bidx", values["phone_bidx"])
    key = ring.new_subject_key(values["id"])  # type: ignore[arg-type]
    params = values | key | {"lookup": lookup, "kind": SubjectKind.PERSON.value}
    if email is None:  # no unique index on phones: serialise creators of the same number
        assert isinstance(lookup, bytes)
        lock_phone(uow, [lookup])
    sql = sa.text(_FIND_OR_CREATE.format(column=column))
    found = uow.session.execute(sql, params).scalar()
    if found is None:  # lost a race: the other transaction's subject is there now
        found = uow.session.execute(sql, params).scalar_one()
    return found  # type: ignore[no-any-return]


_FIND_OR_CREATE_MANY = """
WITH input AS (
    SELECT * FROM unnest(
        CAST(:ids AS uuid[]), CAST(:email_bidx AS bytea[]), CAST(:phone_bidx AS bytea[]),
        CAST(:phone_last4_bidx AS bytea[]), CAST(:pseudonyms AS text[]),
        CAST(:wrapped_keys AS bytea[])
    ) AS i(id, email_bidx, phone_bidx, phone_last4_bidx, pseudonym, wrapped_key)
), found AS (
    SELECT s.id, s.email_bidx FROM privacy.subjects s JOIN input i USING (email_bidx)
    WHERE s.tenant_id = :tenant_id AND s.erased_at IS NULL
), filled AS (
    -- As in the single form: found subjects without a phone learn the contact's phone.
    UPDATE privacy.subjects s SET phone_bidx = i.phone_bidx, phone_last4_bidx = i.phone_last4_bidx
    FROM input i
    WHERE s.tenant_id = :tenant_id AND s.email_bidx = i.email_bidx AND i.phone_bidx IS NOT NULL
      AND s.id IN (
          SELECT l.id FROM privacy.subjects l JOIN found f ON f.id = l.id
          WHERE l.tenant_id = :tenant_id AND l.phone_bidx IS NULL
          FOR UPDATE OF l SKIP LOCKED
      )
    RETURNING s.id
), created AS (
    INSERT INTO privacy.subjects
        (tenant_id, id, kind, email_bidx, phone_bidx, phone_last4_bidx, pseudonym)
    SELECT :tenant_id, i.id, :kind, i.email_bidx, i.phone_bidx, i.phone_last4_bidx, i.pseudonym
    FROM input i
    WHERE NOT EXISTS (SELECT 1 FROM found f WHERE f.email_bidx = i.email_bidx)
    ORDER BY i.email_bidx
    ON CONFLICT DO NOTHING
    RETURNING id, email_bidx
), keyed AS (
    INSERT INTO privacy.subject_keys (tenant_id, subject_id, version, wrapped_key, wrapping_version)
    SELECT :tenant_id, c.id, :version, i.wrapped_key, :wrapping_version
    FROM created c JOIN input i USING (id)
    RETURNING subject_id
)
SELECT id, email_bidx, false AS created FROM found
UNION ALL
SELECT c.id, c.email_bidx, true FROM created c JOIN keyed k ON k.subject_id = c.id
"""


def find_or_insert_subjects(
    uow: UnitOfWork, ring: KeyRing, contacts: list[tuple[str, str | None]]
) -> dict[bytes, uuid.UUID]:
    """`find_or_insert_subject` for many (e-mail, phone) contacts: subject ids by e-mail index.

    One statement for all of them, so its audit trail is one append per table, not one per
    contact (what lets a batch of captured leads commit in one short transaction). Contacts
    with the same e-mail share one subject. The keys of subjects that already existed are
    loaded into the ring; a new subject's key is the ring's already. Like the single form, a
    subject created concurrently by another transaction is read once that one has committed.
    """
    rows: dict[bytes, dict[str, object]] = {}
    emails: dict[bytes, str] = {}
    for email, phone in contacts:
        values = subject_values(uow, ring, email=email, phone=phone)
        index = values["email_bidx"]
        assert isinstance(index, bytes)
        if index not in rows:
            rows[index], emails[index] = values, email
    if not rows:
        return {}
    # In blind-index order (the statement inserts in that order too): two transactions
    # inserting the same addresses meet on them in the same order, so neither can hold one
    # the other waits for while waiting for another.
    rows = dict(sorted(rows.items()))
    keys = {index: ring.new_subject_key(v["id"]) for index, v in rows.items()}  # type: ignore[arg-type]
    first = next(iter(keys.values()))
    params = {
        "tenant_id": uow.require_tenant(),
        "kind": SubjectKind.PERSON.value,
        "version": first["version"],
        "wrapping_version": first["wrapping_version"],
        "ids": [v["id"] for v in rows.values()],
        "email_bidx": list(rows),
        "phone_bidx": [v["phone_bidx"] for v in rows.values()],
        "phone_last4_bidx": [v["phone_last4_bidx"] for v in rows.values()],
        "pseudonyms": [v["pseudonym"] for v in rows.values()],
        "wrapped_keys": [keys[index]["wrapped_key"] for index in rows],
    }
    result: dict[bytes, uuid.UUID] = {}
    existing: set[uuid.UUID] = set()
    for subject_id, index, created in uow.session.execute(sa.text(_FIND_OR_CREATE_MANY), params):
        result[bytes(index)] = subject_id
        if not created:
            existing.add(subject_id)
    ring.preload_subject_keys(existing)
    for index in sorted(rows.keys() - result.keys()):  # lost a race: the other's is there
        result[index] = find_or_insert_subject(uow, ring, email=emails[index])
    return result


_FIND_PHONES = """
SELECT DISTINCT ON (phone_bidx) phone_bidx, id FROM privacy.subjects
WHERE tenant_id = :tenant_id AND erased_at IS NULL AND phone_bidx = ANY(CAST(:lookups AS bytea[]))
ORDER BY phone_bidx, id
"""

_INSERT_PHONES = """
WITH input AS (
    SELECT * FROM unnest(
        CAST(:ids AS uuid[]), CAST(:phone_bidx AS bytea[]), CAST(:phone_last4_bidx AS bytea[]),
        CAST(:pseudonyms AS text[]), CAST(:wrapped_keys AS bytea[])
    ) AS i(id, phone_bidx, phone_last4_bidx, pseudonym, wrapped_key)
), created AS (
    INSERT INTO privacy.subjects
        (tenant_id, id, kind, email_bidx, phone_bidx, phone_last4_bidx, pseudonym)
    SELECT :tenant_id, i.id, :kind, NULL, i.phone_bidx, i.phone_last4_bidx, i.pseudonym
    FROM input i
    RETURNING id
)
INSERT INTO privacy.subject_keys (tenant_id, subject_id, version, wrapped_key, wrapping_version)
SELECT :tenant_id, c.id, :version, i.wrapped_key, :wrapping_version
FROM created c JOIN input i USING (id)
"""


def find_or_insert_phone_subjects(
    uow: UnitOfWork, ring: KeyRing, phones: list[str]
) -> dict[bytes, uuid.UUID]:
    """`find_or_insert_subject` for many phone-only contacts: subject ids by phone index.

    The phones' advisory locks are taken first, in order (as `find_or_insert_subject` takes
    one), so a concurrent creator of the same number waits; then one statement finds the
    existing subjects and one creates the rest, each with its key. Phones that normalise to the
    same number share one subject.
    """
    rows: dict[bytes, dict[str, object]] = {}
    for phone in phones:
        values = subject_values(uow, ring, phone=phone)
        index = values["phone_bidx"]
        assert isinstance(index, bytes)
        rows.setdefault(index, values)
    if not rows:
        return {}
    lock_phone(uow, rows)
    tenant = uow.require_tenant()
    found: dict[bytes, uuid.UUID] = {
        bytes(index): subject_id
        for index, subject_id in uow.session.execute(
            sa.text(_FIND_PHONES), {"tenant_id": tenant, "lookups": list(rows)}
        )
    }
    ring.preload_subject_keys(set(found.values()))
    missing = {index: v for index, v in sorted(rows.items()) if index not in found}
    if missing:
        keys = {index: ring.new_subject_key(v["id"]) for index, v in missing.items()}  # type: ignore[arg-type]
        first = next(iter(keys.values()))
        uow.session.execute(
            sa.text(_INSERT_PHONES),
            {
                "tenant_id": tenant,
                "kind": SubjectKind.PERSON.value,
                "version": first["version"],
                "wrapping_version": first["wrapping_version"],
                "ids": [v["id"] for v in missing.values()],
                "phone_bidx": list(missing),
                "phone_last4_bidx": [v["phone_last4_bidx"] for v in missing.values()],
                "pseudonyms": [v["pseudonym"] for v in missing.values()],
                "wrapped_keys": [keys[index]["wrapped_key"] for index in missing],
            },
        )
        found.update({index: v["id"] for index, v in missing.items()})  # type: ignore[misc]
    return found
