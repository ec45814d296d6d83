"""Identity resolution rules: links from events and connections, junk, limits, conflicts,
tenants, unmerge, and the projection position stored with the links."""

from __future__ import annotations

import sqlalchemy as sa

from tenantry.db.engine import Database
from tenantry.events.identity import LinkReport, link_connection, project_identity_links, unlink
from tenantry.events.ingest import ingest_bulk
from tenantry.models import Connection, IdentityLink, ProjectionPosition
from tests.conftest import TenantFixture
from tests.events_support import event, member
from tests.factories import TEST_MASTER


def _links(db: Database, tenant: TenantFixture) -> list[IdentityLink]:
    with db.tenant_uow(tenant.id) as uow:
        return list(
            uow.session.scalars(sa.select(IdentityLink).order_by(IdentityLink.first_seen_at))
        )


def _ingest(db: Database, tenant: TenantFixture, events: list[dict[str, object]]) -> None:
    ingest_bulk(db, TEST_MASTER, tenant.id, events)


def test_events_link_ga4_ids_to_users_and_business_ids_to_locations(
    clocked_db: Database, tenant: TenantFixture
) -> None:
    user, loc = member(clocked_db, tenant.id), tenant.locations[0]
    ids = {"ga4_client_id": "111.222", "gbp_place_id": "ChIJplace1", "fb_page_id": "78901234"}
    _ingest(clocked_db, tenant, [event(user_id=user, location_id=loc, external_ids=ids)] * 1)
    report = project_identity_links(clocked_db, tenant.id)
    assert report.linked == 3
    links = {
        (str(link.source), link.user_id, link.location_id) for link in _links(clocked_db, tenant)
    }
    assert links == {("ga4", user, None), ("gbp", None, loc), ("facebook", None, loc)}
    again = project_identity_links(clocked_db, tenant.id)
    assert again.events == 0  # the position was stored with the links


def test_the_projection_position_is_stored_with_its_links(
    clocked_db: Database, tenant: TenantFixture
) -> None:
    user = member(clocked_db, tenant.id)
    _ingest(
        clocked_db,
        tenant,
        [event(user_id=user, external_ids={"ga4_client_id": f"1.{i}"}) for i in range(3)],
    )
    project_identity_links(clocked_db, tenant.id, batch_size=2)
    with clocked_db.tenant_uow(tenant.id) as uow:
        pos = uow.session.get(ProjectionPosition, (tenant.id, "identity_links"))
        assert pos is not None and pos.events == 3
    assert len(_links(clocked_db, tenant)) == 3


def test_junk_ids_never_link(clocked_db: Database, tenant: TenantFixture) -> None:
    user = member(clocked_db, tenant.id)
    junk = [{"ga4_client_id": v} for v in ("", "null", "undefined", "anonymous", "0", "0000")]
    _ingest(clocked_db, tenant, [event(user_id=user, external_ids=j) for j in junk])
    project_identity_links(clocked_db, tenant.id)
    assert _links(clocked_db, tenant) == []


def test_per_source_limits_cap_the_links_of_one_target(
    clocked_db: Database, tenant: TenantFixture
) -> None:
    user, loc = member(clocked_db, tenant.id), tenant.locations[0]
    devices = [event(user_id=user, external_ids={"ga4_client_id": f"9.{i}"}) for i in range(12)]
    places = [
        event(location_id=loc, external_ids={"gbp_place_id": f"ChIJ{i}xyz"}) for i in range(2)
    ]
    _ingest(clocked_db, tenant, devices + places)
    report = project_identity_links(clocked_db, tenant.id)
    assert (report.linked, report.over_limit) == (11, 3)


def test_an_id_seen_with_two_users_is_ambiguous_and_deactivated(
    clocked_db: Database, tenant: TenantFixture
) -> None:
    a, b = member(clocked_db, tenant.id), member(clocked_db, tenant.id)
    shared = {"ga4_client_id": "555.666"}
    _ingest(clocked_db, tenant, [event(user_id=a, external_ids=shared)])
    _ingest(clocked_db, tenant, [event(user_id=b, external_ids=shared)])
    _ingest(clocked_db, tenant, [event(user_id=a, external_ids=shared)])
    report = project_identity_links(clocked_db, tenant.id)
    (link,) = _links(clocked_db, tenant)
    assert not link.is_active and link.attributes["conflict"] is True
    assert report.outcomes == ["linked", "conflicts", "seen"]


def test_links_never_cross_tenants(
    clocked_db: Database, tenant: TenantFixture, other_tenant: TenantFixture
) -> None:
    for t in (tenant, other_tenant):
        _ingest(
            clocked_db,
            t,
            [event(location_id=t.locations[0], external_ids={"gbp_place_id": "ChIJsame"})],
        )
        project_identity_links(clocked_db, t.id)
    mine, theirs = _links(clocked_db, tenant), _links(clocked_db, other_tenant)
    assert len(mine) == len(theirs) == 1 and mine[0].is_active and theirs[0].is_active
    assert mine[0].location_id == tenant.locations[0]


def test_unmerge_deactivates_a_link_for_good(clocked_db: Database, tenant: TenantFixture) -> None:
    user = member(clocked_db, tenant.id)
    ids = {"ga4_client_id": "777.888"}
    _ingest(clocked_db, tenant, [event(user_id=user, external_ids=ids)])
    project_identity_links(clocked_db, tenant.id)
    (link,) = _links(clocked_db, tenant)
    with clocked_db.tenant_uow(tenant.id) as uow:
        assert unlink(uow, "ga4", [link.external_id]) == 1
        uow.commit()
    _ingest(clocked_db, tenant, [event(user_id=user, external_ids=ids)])
    project_identity_links(clocked_db, tenant.id)
    (after,) = _links(clocked_db, tenant)
    assert not after.is_active and after.attributes["unmerged"] is True


def test_connections_link_their_external_account(
    clocked_db: Database, tenant: TenantFixture
) -> None:
    with clocked_db.tenant_uow(tenant.id) as uow:
        conn = Connection(
            tenant_id=tenant.id,
            id=uow.ids(),
            location_id=tenant.locations[1],
            provider="instagram",
            external_account_id="17841400000000",
        )
        uow.session.add(conn)
        uow.flush()
        report = LinkReport()
        assert link_connection(uow, conn.id, report) == "linked"
        uow.commit()
    (link,) = _links(clocked_db, tenant)
    assert (str(link.source), link.location_id) == ("instagram", tenant.locations[1])
