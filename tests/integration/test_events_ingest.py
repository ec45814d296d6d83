"""Ingestion: per-event outcomes, idempotency, consent suppression, no personal data stored."""

from __future__ import annotations

import json
import uuid

import pytest
import sqlalchemy as sa

from tenantry.db.engine import Database
from tenantry.errors import ValidationError
from tenantry.events.ingest import BatchTooLargeError, IngestResult, ingest_batch, ingest_bulk
from tenantry.ids import uuid7
from tenantry.privacy.keys import KeyRing
from tests.conftest import TenantFixture
from tests.events_support import event, member, pseudonym_of
from tests.factories import TEST_MASTER


def _ingest(db: Database, tenant: TenantFixture, events: list[object]) -> IngestResult:
    with db.tenant_uow(tenant.id) as uow:
        result = ingest_batch(uow, KeyRing(uow, TEST_MASTER), events)
        uow.commit()
    return result


def _stored(db: Database, tenant: TenantFixture) -> list[sa.Row[tuple[object, ...]]]:
    with db.tenant_uow(tenant.id) as uow:
        return list(
            uow.session.execute(
                sa.text(
                    "SELECT id, user_id, user_key, external_ids::text AS ids,"
                    " properties::text AS props FROM events.inbox ORDER BY seq"
                )
            )
        )


def test_valid_events_are_accepted_and_invalid_ones_rejected_with_a_reason(
    clocked_db: Database, tenant: TenantFixture
) -> None:
    user = member(clocked_db, tenant.id)
    batch = [
        event(user_id=user, location_id=tenant.locations[0]),
        event("no_such_type"),
        event(properties={"duration_seconds": 3}),  # step_id missing
        {"event_id": str(uuid.uuid4()), "timestamp": "2026-03-14T09:00:00Z", "event_type": "login"},
        "not an object",
        event("visibility_check_completed", properties={"check_id": str(uuid7()), "gbp_score": 70}),
        event(
            properties={"step_id": "nul", "note": "a\x00"}
        ),  # jsonb cannot store it: this one, not all
    ]
    result = _ingest(clocked_db, tenant, batch)
    statuses = [o.status for o in result.outcomes]
    assert statuses == [
        "accepted", "rejected", "rejected", "rejected", "rejected", "accepted", "rejected"
    ]  # fmt: skip
    reasons = [o.reason for o in result.outcomes]
    assert reasons[1] == "event_type: unknown event type"
    assert reasons[2] is not None and reasons[2].startswith("properties.step_id")
    assert reasons[3] is not None and "UUIDv7" in reasons[3]
    assert reasons[6] is not None and "NUL" in reasons[6]
    assert (result.accepted, result.rejected) == (2, 5)
    assert len(_stored(clocked_db, tenant)) == 2


def test_a_retried_event_is_accepted_once(clocked_db: Database, tenant: TenantFixture) -> None:
    e = event()
    first = _ingest(clocked_db, tenant, [e, e])
    again = _ingest(clocked_db, tenant, [e])
    assert [o.status for o in first.outcomes] == ["accepted", "duplicate"]
    assert [o.status for o in again.outcomes] == ["duplicate"]
    assert len(_stored(clocked_db, tenant)) == 1


def test_the_same_event_id_in_two_tenants_is_two_events(
    clocked_db: Database, tenant: TenantFixture, other_tenant: TenantFixture
) -> None:
    e = event()
    assert _ingest(clocked_db, tenant, [e]).accepted == 1
    assert _ingest(clocked_db, other_tenant, [e]).accepted == 1


def test_events_of_users_without_analytics_consent_are_suppressed(
    clocked_db: Database, tenant: TenantFixture
) -> None:
    granted = member(clocked_db, tenant.id)
    denied = member(clocked_db, tenant.id, consent="denied")
    unknown = member(clocked_db, tenant.id, consent=None)
    stranger = uuid7()
    result = _ingest(
        clocked_db,
        tenant,
        [event(user_id=u) for u in (granted, denied, unknown, stranger)] + [event()],
    )
    assert [o.status for o in result.outcomes] == [
        "accepted",
        "suppressed",
        "suppressed",
        "suppressed",
        "accepted",
    ]
    assert result.outcomes[1].reason == "no analytics consent"
    assert len(_stored(clocked_db, tenant)) == 2


def test_a_user_of_another_tenant_is_suppressed(
    clocked_db: Database, tenant: TenantFixture, other_tenant: TenantFixture
) -> None:
    theirs = member(clocked_db, other_tenant.id)
    assert _ingest(clocked_db, tenant, [event(user_id=theirs)]).suppressed == 1


def test_subjects_appear_only_as_their_pseudonym_and_ga4_ids_only_as_keyed_hashes(
    clocked_db: Database, tenant: TenantFixture
) -> None:
    user = member(clocked_db, tenant.id)
    e = event(
        "email_open",
        user_id=user,
        properties={"email": "Erika.Example@example.org", "campaign_id": "spring"},
        external_ids={"ga4_client_id": "123.456", "gbp_place_id": "ChIJexample"},
    )
    assert _ingest(clocked_db, tenant, [e]).accepted == 1
    (row,) = _stored(clocked_db, tenant)
    assert row.user_key == pseudonym_of(clocked_db, tenant.id, user)
    ids, props = json.loads(row.ids), json.loads(row.props)
    assert ids["gbp_place_id"] == "ChIJexample"
    assert len(ids["ga4_client_id"]) == 64 and "123.456" not in row.ids
    assert "example.org" not in row.props.lower() and len(props["email_key"]) == 64


@pytest.mark.parametrize(
    "props",
    [
        {"step_id": "profile", "note": "write to erika@example.org"},
        {"step_id": "profile", "contact": "+49 30 1234567"},
        {"step_id": "profile", "nested": {"phone": "030 1234567"}},
    ],
)
def test_properties_carrying_personal_data_are_rejected(
    clocked_db: Database, tenant: TenantFixture, props: dict[str, object]
) -> None:
    result = _ingest(clocked_db, tenant, [event(properties=props)])
    assert result.rejected == 1
    reason = result.outcomes[0].reason or ""
    assert "personal data" in reason and "example.org" not in reason and "1234567" not in reason


def test_junk_external_ids_are_dropped(clocked_db: Database, tenant: TenantFixture) -> None:
    ids = {"ga4_client_id": "undefined", "fb_page_id": "0", "gbp_place_id": "null"}
    assert _ingest(clocked_db, tenant, [event(external_ids=ids)]).accepted == 1
    (row,) = _stored(clocked_db, tenant)
    assert json.loads(row.ids) == {}


def test_foreign_locations_accounts_and_future_timestamps_are_rejected(
    clocked_db: Database, tenant: TenantFixture, other_tenant: TenantFixture
) -> None:
    foreign = event(location_id=other_tenant.locations[0])
    account = event() | {"account_id": str(other_tenant.id)}
    future = event() | {"timestamp": "2026-03-15T10:00:00Z"}
    result = _ingest(clocked_db, tenant, [foreign, account, future])
    assert [o.reason for o in result.outcomes] == [
        "location_id: no such location in this tenant",
        "account_id: not this tenant's account",
        "timestamp: lies in the future",
    ]


def test_batches_over_the_limits_are_refused_as_a_whole(
    clocked_db: Database, tenant: TenantFixture
) -> None:
    with clocked_db.tenant_uow(tenant.id) as uow:
        ring = KeyRing(uow, TEST_MASTER)
        with pytest.raises(BatchTooLargeError, match="500 events"):
            ingest_batch(uow, ring, [event() for _ in range(501)])
        big = [event(properties={"step_id": "s", "pad": "x" * 2000}) for _ in range(300)]
        with pytest.raises(BatchTooLargeError, match="500 KB"):
            ingest_batch(uow, ring, big)
        with pytest.raises(ValidationError):
            ingest_batch(uow, ring, {"not": "a list"})  # type: ignore[arg-type]


def test_bulk_ingest_loads_many_events_and_reports_only_the_exceptions(
    clocked_db: Database, tenant: TenantFixture
) -> None:
    user = member(clocked_db, tenant.id)
    events = [event(user_id=user) for _ in range(2_500)] + [event("nope")]
    result = ingest_bulk(clocked_db, TEST_MASTER, tenant.id, events, chunk_size=1_000)
    assert (result.accepted, result.rejected) == (2_500, 1)
    assert [o.status for o in result.outcomes] == ["rejected"]
    again = ingest_bulk(clocked_db, TEST_MASTER, tenant.id, events[:1_500], chunk_size=1_000)
    assert (again.accepted, again.duplicate) == (0, 1_500)
    assert len(_stored(clocked_db, tenant)) == 2_500


@pytest.mark.parametrize("source", ["ga4", "consent", "outbox", "API"])
def test_only_the_vocabularys_ingestion_sources_are_accepted(
    db: Database, tenant: TenantFixture, source: str
) -> None:
    """Freshness SLAs and the docs are kept per source: a source nobody watches is refused."""
    with pytest.raises(ValidationError, match="source must be one of api, bulk"):
        ingest_bulk(db, TEST_MASTER, tenant.id, [event()], source=source)
    with db.tenant_uow(tenant.id) as uow, pytest.raises(ValidationError):
        ingest_batch(uow, KeyRing(uow, TEST_MASTER), [event()], source=source)
