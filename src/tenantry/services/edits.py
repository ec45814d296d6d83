"""Editing and deleting the plainer records: customers, vehicles, leads, locations, catalog
services, channel connections, review replies and the status of recommendations; and the
refusal to delete ledger records and data-subject requests.

Every edit follows one shape (`begin_edit`, then `apply_changes`): the permission check, the
record loaded for update in the principal's scope (outside it: not found), the caller's
precondition run on the locked record (the API's `If-Match`), then only the fields sent are
set, the row flushed (so database checks surface as tenantry errors) and read back, so what is
returned is what a later read returns. Row triggers audit each UPDATE with the columns it
touched; sealed fields are resealed by the unit of work's sealer, which also keeps blind
indexes and the data subject's lookup values in step.

Nothing here commits or knows about HTTP; the precondition is a plain callable.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from typing import Any

from tenantry.db.uow import UnitOfWork
from tenantry.errors import ConflictError, PermissionDeniedError, ValidationError
from tenantry.events.outbox import record_change
from tenantry.models import (
    Connection,
    Customer,
    Lead,
    Location,
    Recommendation,
    Review,
    Service,
    Vehicle,
)
from tenantry.privacy.subjects import find_or_insert_subject, find_subject
from tenantry.privacy.vault import keyring
from tenantry.scheduling.resources import check_move
from tenantry.services.leads import place
from tenantry.services.principal import Action, Principal
from tenantry.services.records import KINDS, get_record

__all__ = [
    "Precondition",
    "apply_changes",
    "begin_edit",
    "delete_connection",
    "delete_customer",
    "delete_lead",
    "delete_location",
    "delete_review_reply",
    "delete_service",
    "delete_vehicle",
    "refuse_delete",
    "soft_delete",
    "update_connection",
    "update_customer",
    "update_lead",
    "update_location",
    "update_recommendation",
    "update_review",
    "update_service",
    "update_vehicle",
]

Precondition = Callable[[Any], None]
"""Called with the record as the write sees it (row locked): raises to refuse the write."""


def _none(_record: Any) -> None:
    return None


def begin_edit(
    uow: UnitOfWork,
    principal: Principal,
    kind: str,
    id_: uuid.UUID,
    action: Action,
    precondition: Precondition | None = None,
) -> Any:
    """The record to change: permission, scope, row lock, then the caller's precondition."""
    principal.require(action)
    record = get_record(uow, principal, KINDS[kind], id_, for_update=True)
    (precondition or _none)(record)
    return record


def apply_changes(uow: UnitOfWork, record: Any, changes: Mapping[str, Any]) -> Any:
    """Set the fields sent, flush, and read the row back (a no-op when nothing was sent)."""
    if not changes:
        return record
    for name, value in changes.items():
        setattr(record, name, value)
    record.updated_at = uow.clock.now()
    uow.flush()
    uow.session.refresh(record)
    return record


def soft_delete(uow: UnitOfWork, record: Any) -> None:
    """Mark a record deleted: reads and lists skip it from now on."""
    now = uow.clock.now()
    record.deleted_at = now
    record.updated_at = now
    uow.flush()


def _in_scope(principal: Principal, location_id: uuid.UUID | None, required: bool) -> None:
    """A scoped principal may not move a record outside its locations (reported as missing)."""
    if required or principal.location_ids is not None:
        principal.require_location(location_id, "location")


def _contact_subject(uow: UnitOfWork, record: Any, changes: Mapping[str, Any]) -> None:
    """Keep a changed e-mail or phone on the right data subject.

    An address that already names another live subject of the tenant is refused: moving it
    would merge two people. A record that had no subject yet takes the one its new contact
    names, as a new record would (the sealer then reseals its values under that key).
    """
    email, phone = changes.get("email"), changes.get("phone")
    if not email and not phone:
        return
    ring = keyring(uow)
    if email:
        owner = find_subject(uow, ring, email=email)
        if owner is not None and record.subject_id not in (None, owner.id):
            raise ConflictError("this e-mail address belongs to another person of the tenant")
    if record.subject_id is None:
        record.subject_id = find_or_insert_subject(uow, ring, email=email, phone=phone or None)


# -- customers and vehicles ---------------------------------------------------------------


def update_customer(
    uow: UnitOfWork,
    principal: Principal,
    customer_id: uuid.UUID,
    changes: Mapping[str, Any],
    precondition: Precondition | None = None,
) -> Customer:
    customer: Customer = begin_edit(
        uow, principal, "customer", customer_id, Action.WRITE_CRM, precondition
    )
    if "home_location_id" in changes:
        _in_scope(principal, changes["home_location_id"], False)
    _contact_subject(uow, customer, changes)
    return apply_changes(uow, customer, changes)  # type: ignore[no-any-return]


def delete_customer(
    uow: UnitOfWork,
    principal: Principal,
    customer_id: uuid.UUID,
    precondition: Precondition | None = None,
) -> None:
    soft_delete(
        uow, begin_edit(uow, principal, "customer", customer_id, Action.WRITE_CRM, precondition)
    )


def update_vehicle(
    uow: UnitOfWork,
    principal: Principal,
    vehicle_id: uuid.UUID,
    changes: Mapping[str, Any],
    precondition: Precondition | None = None,
) -> Vehicle:
    vehicle: Vehicle = begin_edit(
        uow, principal, "vehicle", vehicle_id, Action.WRITE_CRM, precondition
    )
    if "customer_id" in changes and changes["customer_id"] != vehicle.customer_id:
        owner: Customer = get_record(uow, principal, KINDS["customer"], changes["customer_id"])
        # The vehicle's personal data (plate, VIN) follows its new owner's key.
        vehicle.subject_id = owner.subject_id
    return apply_changes(uow, vehicle, changes)  # type: ignore[no-any-return]


def delete_vehicle(
    uow: UnitOfWork,
    principal: Principal,
    vehicle_id: uuid.UUID,
    precondition: Precondition | None = None,
) -> None:
    soft_delete(
        uow, begin_edit(uow, principal, "vehicle", vehicle_id, Action.WRITE_CRM, precondition)
    )


# -- leads --------------------------------------------------------------------------------


def update_lead(
    uow: UnitOfWork,
    principal: Principal,
    lead_id: uuid.UUID,
    changes: Mapping[str, Any],
    precondition: Precondition | None = None,
) -> Lead:
    lead: Lead = begin_edit(uow, principal, "lead", lead_id, Action.WRITE_CRM, precondition)
    if "location_id" in changes:
        _in_scope(principal, changes["location_id"], True)
    _contact_subject(uow, lead, changes)
    if "latitude" in changes or "longitude" in changes:  # a pair, stored rounded
        changes = dict(changes)
        changes["latitude"], changes["longitude"] = place(
            changes.get("latitude", lead.latitude), changes.get("longitude", lead.longitude)
        )
    if changes.get("category"):
        changes = {**changes, "category": str(changes["category"]).strip().lower() or None}
    changed: Lead = apply_changes(uow, lead, changes)
    # What feeds the lead's score may have changed: the scoring projection rescores it.
    record_change(uow, "lead", lead.id, "lead.changed", {"fields": sorted(changes)})
    return changed


def delete_lead(
    uow: UnitOfWork,
    principal: Principal,
    lead_id: uuid.UUID,
    precondition: Precondition | None = None,
) -> None:
    soft_delete(uow, begin_edit(uow, principal, "lead", lead_id, Action.WRITE_CRM, precondition))


# -- locations and catalog services -------------------------------------------------------


def update_location(
    uow: UnitOfWork,
    principal: Principal,
    location_id: uuid.UUID,
    changes: Mapping[str, Any],
    precondition: Precondition | None = None,
) -> Location:
    location: Location = begin_edit(
        uow, principal, "location", location_id, Action.MANAGE_LOCATIONS, precondition
    )
    return apply_changes(uow, location, changes)  # type: ignore[no-any-return]


def delete_location(
    uow: UnitOfWork,
    principal: Principal,
    location_id: uuid.UUID,
    precondition: Precondition | None = None,
) -> None:
    if principal.location_ids is not None:
        # Like creating one: a principal limited to locations does not shape the tenant.
        principal.require(Action.MANAGE_LOCATIONS)
        raise PermissionDeniedError("a principal limited to locations cannot delete locations")
    location = begin_edit(
        uow, principal, "location", location_id, Action.MANAGE_LOCATIONS, precondition
    )
    soft_delete(uow, location)


def update_service(
    uow: UnitOfWork,
    principal: Principal,
    service_id: uuid.UUID,
    changes: Mapping[str, Any],
    precondition: Precondition | None = None,
) -> Service:
    service: Service = begin_edit(
        uow, principal, "service", service_id, Action.MANAGE_LOCATIONS, precondition
    )
    if "location_id" in changes:
        _in_scope(principal, changes["location_id"], False)
        check_move(uow, service, changes["location_id"])
    return apply_changes(uow, service, changes)  # type: ignore[no-any-return]


def delete_service(
    uow: UnitOfWork,
    principal: Principal,
    service_id: uuid.UUID,
    precondition: Precondition | None = None,
) -> None:
    soft_delete(
        uow,
        begin_edit(uow, principal, "service", service_id, Action.MANAGE_LOCATIONS, precondition),
    )


# -- connections and reviews --------------------------------------------------------------


def update_connection(
    uow: UnitOfWork,
    principal: Principal,
    connection_id: uuid.UUID,
    changes: Mapping[str, Any],
    precondition: Precondition | None = None,
) -> Connection:
    connection: Connection = begin_edit(
        uow, principal, "connection", connection_id, Action.MANAGE_LOCATIONS, precondition
    )
    return apply_changes(uow, connection, changes)  # type: ignore[no-any-return]


def delete_connection(
    uow: UnitOfWork,
    principal: Principal,
    connection_id: uuid.UUID,
    precondition: Precondition | None = None,
) -> None:
    """Disconnect: the row goes, and its sealed tokens with it (the audit trail names the
    columns only)."""
    connection = begin_edit(
        uow, principal, "connection", connection_id, Action.MANAGE_LOCATIONS, precondition
    )
    uow.session.delete(connection)
    uow.flush()


def update_review(
    uow: UnitOfWork,
    principal: Principal,
    review_id: uuid.UUID,
    changes: Mapping[str, Any],
    precondition: Precondition | None = None,
) -> Review:
    """The business's side of a review: its reply (text, or null to withdraw) and escalation."""
    review: Review = begin_edit(uow, principal, "review", review_id, Action.WRITE_CRM, precondition)
    values = dict(changes)
    if "response_body" in values:
        body = values["response_body"]
        if body is not None and not body.strip():
            raise ValidationError("a reply needs text")
        values["responded_at"] = None if body is None else uow.clock.now()
    return apply_changes(uow, review, values)  # type: ignore[no-any-return]


def delete_review_reply(
    uow: UnitOfWork,
    principal: Principal,
    review_id: uuid.UUID,
    precondition: Precondition | None = None,
) -> Review:
    """Withdraw the business's reply to a review (the review itself is the platform's)."""
    return update_review(uow, principal, review_id, {"response_body": None}, precondition)


# -- recommendations ----------------------------------------------------------------------


def update_recommendation(
    uow: UnitOfWork,
    principal: Principal,
    recommendation_id: uuid.UUID,
    changes: Mapping[str, Any],
    precondition: Precondition | None = None,
) -> Recommendation:
    """What the business made of a recommendation (its status, its priority); what it says
    and the evidence it rests on stay as they were made."""
    recommendation: Recommendation = begin_edit(
        uow, principal, "recommendation", recommendation_id, Action.WRITE_CRM, precondition
    )
    return apply_changes(uow, recommendation, changes)  # type: ignore[no-any-return]


# -- records that are never deleted -------------------------------------------------------

# Why each kind of record stays, and who is told so (others get 403 as for any write).
_KEPT: dict[str, tuple[Action, str]] = {
    # The evidence ledger (seed 000): a statement is only as good as the evidence that can
    # still be shown for it.
    "visibility_check": (
        Action.MANAGE_LOCATIONS,
        "the evidence ledger is append-only:"
        " a visibility check stays as the record of what was measured",
    ),
    "evidence": (
        Action.MANAGE_LOCATIONS,
        "the evidence ledger is append-only:"
        " evidence stays as the record of what a statement rests on",
    ),
    "recommendation": (
        Action.MANAGE_LOCATIONS,
        "the evidence ledger is append-only:"
        " a recommendation stays with the evidence it was made on",
    ),
    # GDPR Art. 5(2): the controller must be able to show how each request was handled.
    "dsar": (
        Action.PRIVACY,
        "data-subject requests are kept as proof of how each request"
        " was handled (GDPR Art. 5(2) accountability)",
    ),
}


def refuse_delete(uow: UnitOfWork, principal: Principal, kind: str, id_: uuid.UUID) -> None:
    """Records that are never deleted: the record is looked up (another tenant's id stays a
    404, a role that may not write stays a 403) and the deletion refused with the reason."""
    action, reason = _KEPT[kind]
    principal.require(action)
    get_record(uow, principal, KINDS[kind], id_)
    raise ConflictError(reason)
