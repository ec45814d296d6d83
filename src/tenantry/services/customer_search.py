"""Customer search by e-mail, phone or licence plate, through blind indexes only.

The search value is normalised exactly as it was when stored (`normalise_email`, E.164 phone
numbers, plates as upper-case letters and digits) and turned into its keyed blind index; one
query then finds the customers whose data subject (e-mail, phone) or whose vehicle (plate)
carries that index. No row is decrypted to compare: only the customers found are opened, when
they are shown. The principal's location scope and soft deletion apply as for every read of a
customer, so a customer outside the scope (or of another tenant: other keys, other indexes) is
simply not found; nothing tells whether one exists.

A phone number is read as every stored phone number is (national numbers for Germany, see
`tenantry.privacy.crypto.normalise_phone`). A customer is found by phone through their data
subject: a subject first created from an e-mail alone carries the phone number only once a row
with the number is stored under it again or changed (`FieldSealer` records it then).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence

import sqlalchemy as sa

from tenantry.db.uow import UnitOfWork
from tenantry.errors import ValidationError
from tenantry.models import Customer, Subject, Vehicle
from tenantry.privacy.sealing import field_index
from tenantry.privacy.subjects import email_index, phone_index
from tenantry.privacy.vault import keyring
from tenantry.services.principal import Principal
from tenantry.services.records import KINDS, list_records

__all__ = ["EMAIL_SEARCH_PATTERN", "PHONE_PATTERN", "PLATE_PATTERN", "search_customers"]

# How a search value may be written (blanks around an e-mail address are allowed: it is
# normalised); anything else is refused before a lookup, by the API and the CLI alike.
EMAIL_SEARCH_PATTERN = r"^\s*[^@\s\x00-\x1f\x7f]+@[^@\s\x00-\x1f\x7f]+\s*$"
PHONE_PATTERN = r"^\+?[0-9][0-9 ()./-]{2,39}$"
PLATE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9 .-]{0,19}$"


def search_customers(
    uow: UnitOfWork,
    principal: Principal,
    *,
    email: str | None = None,
    phone: str | None = None,
    plate: str | None = None,
    after: uuid.UUID | None = None,
    limit: int = 50,
) -> Sequence[Customer]:
    """The live customers with this e-mail, phone number or plate (exactly one of them), in
    id order; a malformed value is a `ValidationError`."""
    KINDS["customer"].authorise(principal)
    given = [name for name, v in (("email", email), ("phone", phone), ("plate", plate)) if v]
    if len(given) != 1:
        raise ValidationError("give exactly one of email, phone or plate")
    for value, pattern, what in (
        (phone, PHONE_PATTERN, "phone number"),
        (plate, PLATE_PATTERN, "plate"),
    ):
        if value and not re.fullmatch(pattern, value):
            raise ValidationError(f"not a valid {what}")
    ring = keyring(uow)
    tenant = uow.require_tenant()
    if plate:
        owners = sa.select(Vehicle.customer_id).where(
            Vehicle.tenant_id == tenant,
            Vehicle.deleted_at.is_(None),
            Vehicle.license_plate_bidx == field_index(ring, Vehicle.license_plate, plate),
        )
        match = Customer.id.in_(owners)
    else:
        if email:
            lookup = Subject.email_bidx == email_index(ring, email)
        else:
            lookup = Subject.phone_bidx == phone_index(ring, phone or "")[0]
        subjects = sa.select(Subject.id).where(
            Subject.tenant_id == tenant, Subject.erased_at.is_(None), lookup
        )
        match = Customer.subject_id.in_(subjects)
    return list_records(uow, principal, KINDS["customer"], match, after=after, limit=limit)
