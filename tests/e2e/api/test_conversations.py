"""Conversations through HTTP: threads, messages (chat and correspondence), lead interactions,
escalations and the customer timeline, on real PostgreSQL; bad input is a 4xx that writes
nothing."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from fastapi.testclient import TestClient

from tenantry.db.engine import Database
from tenantry.models import Membership, MembershipLocation, Review, User
from tests.conftest import TenantFixture, make_tenant

Headers = dict[str, str]


def _customer(client: TestClient, tenant: TenantFixture, h: Headers) -> dict[str, Any]:
    body = {
        "home_location_id": str(tenant.locations[0]),
        "first_name": "Erika",
        "last_name": "Mustermann",
        "email": f"erika.{uuid.uuid4().hex[:8]}@example.org",
    }
    r = client.post("/v1/customers", json=body, headers=h)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def _lead(client: TestClient, tenant: TenantFixture, h: Headers) -> dict[str, Any]:
    body = {
        "location_id": str(tenant.locations[0]),
        "source": "web_quote",
        "email": f"max.{uuid.uuid4().hex[:8]}@example.com",
    }
    r = client.post("/v1/leads", json=body, headers=h)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def _thread(client: TestClient, h: Headers, **body: Any) -> dict[str, Any]:
    r = client.post("/v1/threads", json=body, headers=h)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def _member(db: Database, tenant: TenantFixture) -> uuid.UUID:
    with db.platform_uow(tenant_id=tenant.id) as uow:
        user = User(id=uow.ids(), email=f"staff.{uuid.uuid4().hex[:8]}@example.com")
        uow.session.add(user)
        uow.flush()
        uow.session.add(
            Membership(tenant_id=tenant.id, id=uow.ids(), user_id=user.id, role="staff")
        )
        uow.commit()
        return user.id


def _count(db: Database, table: str, tenant: TenantFixture) -> int:
    with db.platform_uow() as uow:
        return int(
            uow.session.scalar(
                sa.text(f"SELECT count(*) FROM {table} WHERE tenant_id = :t"), {"t": tenant.id}
            )
            or 0
        )


def test_a_thread_takes_chat_and_e_mail_messages_in_time_order(
    client: TestClient, tenant: TenantFixture, key_for
) -> None:
    h = key_for(tenant)
    customer = _customer(client, tenant, h)
    thread = _thread(client, h, customer_id=customer["id"], channel="sms", subject="Termin")
    assert thread["status"] == "open" and thread["subject"] == "Termin"
    assert thread["location_id"] == str(tenant.locations[0]) and thread["last_message_at"] is None
    texts = ["Hallo, geht morgen?", "Ja, um 10 Uhr.", "Danke!"]
    sent = [
        client.post(
            f"/v1/threads/{thread['id']}/messages",
            json={"body": text, "direction": way},
            headers=h,
        )
        for text, way in zip(texts, ["inbound", "outbound", "inbound"], strict=True)
    ]
    assert [r.status_code for r in sent] == [201] * 3, sent[0].text
    assert {r.json()["storage"] for r in sent} == {"chat"}
    mail = client.post(
        f"/v1/threads/{thread['id']}/messages",
        json={"body": "Ihre Rechnung anbei.", "direction": "outbound", "channel": "email"},
        headers=h,
    )
    assert mail.status_code == 201 and mail.json()["storage"] == "correspondence"
    assert sent[0].json()["author_kind"] == "customer" and sent[1].json()["author_kind"] == "staff"

    bodies: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 3} | ({"cursor": cursor} if cursor else {})
        page = client.get(f"/v1/threads/{thread['id']}/messages", params=params, headers=h)
        assert page.status_code == 200, page.text
        bodies += [m["body"] for m in page.json()["items"]]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    assert bodies == [*texts, "Ihre Rechnung anbei."]
    got = client.get(f"/v1/threads/{thread['id']}", headers=h).json()
    assert got["last_message_at"] == mail.json()["sent_at"]
    listed = client.get("/v1/threads", params={"customer_id": customer["id"]}, headers=h).json()
    assert [t["id"] for t in listed["items"]] == [thread["id"]]


def test_patch_a_thread_with_if_match_and_closed_threads_take_no_messages(
    client: TestClient, tenant: TenantFixture, key_for
) -> None:
    h = key_for(tenant)
    customer = _customer(client, tenant, h)
    thread = _thread(client, h, customer_id=customer["id"], channel="web")
    etag = client.get(f"/v1/threads/{thread['id']}", headers=h).headers["ETag"]
    closed = client.patch(
        f"/v1/threads/{thread['id']}", json={"status": "closed"}, headers=h | {"If-Match": etag}
    )
    assert closed.status_code == 200 and closed.json()["status"] == "closed", closed.text
    stale = client.patch(
        f"/v1/threads/{thread['id']}", json={"subject": "x"}, headers=h | {"If-Match": etag}
    )
    assert stale.status_code == 412
    refused = client.post(
        f"/v1/threads/{thread['id']}/messages",
        json={"body": "Hallo", "direction": "inbound"},
        headers=h,
    )
    assert refused.status_code == 409
    assert (
        client.patch(f"/v1/threads/{thread['id']}", json={"channel": "sms"}, headers=h).status_code
        == 422
    )
    assert (
        client.patch(f"/v1/threads/{thread['id']}", json={"status": None}, headers=h).status_code
        == 422
    )
    assert client.get(f"/v1/threads/{thread['id']}", headers=h).json()["subject"] is None


def test_bad_thread_and_message_input_is_4xx_and_writes_nothing(
    client: TestClient, tenant: TenantFixture, key_for, db: Database
) -> None:
    h = key_for(tenant)
    customer = _customer(client, tenant, h)
    threads_before = _count(db, "engage.threads", tenant)
    bad = [
        {"customer_id": customer["id"], "channel": "fax"},
        {"channel": "sms"},
        {"customer_id": str(uuid.uuid4()), "channel": "sms"},
        {"customer_id": customer["id"], "channel": "sms", "extra": 1},
    ]
    codes = [client.post("/v1/threads", json=b, headers=h).status_code for b in bad]
    assert codes == [422, 422, 404, 422]
    assert _count(db, "engage.threads", tenant) == threads_before

    thread = _thread(client, h, customer_id=customer["id"], channel="sms")
    other = make_tenant(db)
    other_h = key_for(other)
    url = f"/v1/threads/{thread['id']}/messages"
    attempts = [
        ({"body": "", "direction": "inbound"}, h, 422),
        ({"body": "   ", "direction": "inbound"}, h, 422),
        ({"body": "Hallo", "direction": "sideways"}, h, 422),
        ({"body": "Hallo", "direction": "inbound", "channel": "pigeon"}, h, 422),
        ({"body": "Hallo", "direction": "inbound"}, other_h, 404),
    ]
    for body, headers, code in attempts:
        r = client.post(url, json=body, headers=headers)
        assert r.status_code == code, (body, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
    assert _count(db, "engage.chat_messages", tenant) == 0
    assert _count(db, "engage.messages", tenant) == 0


def test_lead_interactions_are_recorded_and_a_call_marks_a_new_lead_contacted(
    client: TestClient, tenant: TenantFixture, key_for
) -> None:
    h = key_for(tenant)
    lead = _lead(client, tenant, h)
    url = f"/v1/leads/{lead['id']}/interactions"
    note = client.post(url, json={"kind": "note", "summary": "Wants a quote"}, headers=h)
    assert note.status_code == 201, note.text
    assert note.json()["channel"] is None and note.json()["summary"] == "Wants a quote"
    assert client.get(f"/v1/leads/{lead['id']}", headers=h).json()["status"] == "new"
    call = client.post(url, json={"kind": "call", "outcome": "callback"}, headers=h)
    assert call.status_code == 201, call.text
    assert call.json()["channel"] == "voice" and call.json()["direction"] == "outbound"
    assert client.get(f"/v1/leads/{lead['id']}", headers=h).json()["status"] == "contacted"
    again = client.post(url, json={"kind": "email", "summary": "Angebot"}, headers=h)
    assert again.status_code == 201  # an already contacted lead stays contacted
    listed = client.get(url, params={"limit": 2}, headers=h).json()
    assert [i["kind"] for i in listed["items"]] == ["email", "call"]
    rest = client.get(url, params={"cursor": listed["next_cursor"]}, headers=h).json()
    assert [i["kind"] for i in rest["items"]] == ["note"] and rest["next_cursor"] is None
    for bad in ({"kind": "telegram"}, {"kind": "message"}, {"kind": "note", "channel": "fax"}):
        assert client.post(url, json=bad, headers=h).status_code == 422, bad
    assert len(client.get(url, headers=h).json()["items"]) == 3


def test_escalations_need_a_member_and_move_through_their_lifecycle(
    client: TestClient, tenant: TenantFixture, key_for, db: Database
) -> None:
    h = key_for(tenant)
    customer = _customer(client, tenant, h)
    thread = _thread(client, h, customer_id=customer["id"], channel="social")
    member = _member(db, tenant)
    stranger = _member(db, make_tenant(db))
    url = f"/v1/threads/{thread['id']}/escalate"
    refused = client.post(url, json={"reason": "angry", "assignee_id": str(stranger)}, headers=h)
    assert refused.status_code == 422 and "member" in refused.json()["detail"]
    assert _count(db, "engage.escalations", tenant) == 0
    made = client.post(
        url, json={"reason": "Asks for the owner", "assignee_id": str(member)}, headers=h
    )
    assert made.status_code == 201, made.text
    esc = made.json()
    assert esc["status"] == "open" and esc["reason"] == "Asks for the owner"
    assert client.post(url, json={"reason": "again"}, headers=h).status_code == 409
    mine = client.get(
        "/v1/escalations", params={"assignee": str(member), "status": "open"}, headers=h
    ).json()
    assert [e["id"] for e in mine["items"]] == [esc["id"]]
    eurl = f"/v1/escalations/{esc['id']}"
    assert client.patch(eurl, json={"assignee_id": str(stranger)}, headers=h).status_code == 422
    ack = client.patch(eurl, json={"status": "acknowledged"}, headers=h).json()
    assert ack["status"] == "acknowledged" and ack["acknowledged_at"] is not None
    done = client.patch(eurl, json={"status": "resolved"}, headers=h).json()
    assert done["status"] == "resolved" and done["resolved_at"] is not None
    assert client.patch(eurl, json={"status": "acknowledged"}, headers=h).status_code == 409
    assert client.get("/v1/escalations", params={"status": "open"}, headers=h).json()["items"] == []
    second = client.post(url, json={"reason": "Again unhappy"}, headers=h)
    assert second.status_code == 201  # the first is resolved
    reopened = client.patch(eurl, json={"status": "open"}, headers=h)
    assert reopened.status_code == 409  # one unresolved escalation per thread
    assert client.get(eurl, headers=h).json()["status"] == "resolved"


def test_the_timeline_merges_bookings_payments_messages_and_interactions(
    client: TestClient, tenant: TenantFixture, key_for
) -> None:
    h = key_for(tenant)
    customer = _customer(client, tenant, h)
    booking = client.post(
        "/v1/bookings",
        json={
            "location_id": str(tenant.locations[0]),
            "customer_id": customer["id"],
            "kind": "reservation",
            "starts_at": "2027-01-10T18:00:00+00:00",
            "items": [{"quantity": 1, "description": "Menu", "unit_price_cents": 4500}],
        },
        headers=h,
    )
    assert booking.status_code == 201, booking.text
    confirmed = client.post(f"/v1/bookings/{booking.json()['id']}/confirm", headers=h)
    assert confirmed.status_code == 200, confirmed.text
    paid = client.post(
        f"/v1/bookings/{booking.json()['id']}/payments",
        json={"kind": "full", "method": "card", "amount_cents": 4500},
        headers=h,
    )
    assert paid.status_code == 201, paid.text
    thread = _thread(client, h, customer_id=customer["id"], channel="sms")
    client.post(
        f"/v1/threads/{thread['id']}/messages",
        json={"body": "Tisch für 4?", "direction": "inbound"},
        headers=h,
    )
    client.post(
        f"/v1/threads/{thread['id']}/messages",
        json={"body": "Bestätigung per Mail", "direction": "outbound", "channel": "email"},
        headers=h,
    )
    lead = _lead(client, tenant, h)
    for step in ("contact", "qualify"):
        assert client.post(f"/v1/leads/{lead['id']}/{step}", headers=h).status_code == 200
    converted = client.post(
        f"/v1/leads/{lead['id']}/convert", json={"customer_id": customer["id"]}, headers=h
    )
    assert converted.status_code == 200, converted.text
    client.post(
        f"/v1/leads/{lead['id']}/interactions",
        json={"kind": "visit", "summary": "Came by"},
        headers=h,
    )
    lead_thread = _thread(client, h, lead_id=lead["id"], channel="voice")
    client.post(
        f"/v1/threads/{lead_thread['id']}/messages",
        json={"body": "Rückruf erbeten", "direction": "inbound"},
        headers=h,
    )

    url = f"/v1/customers/{customer['id']}/timeline"
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = client.get(url, params=params, headers=h)
        assert page.status_code == 200, page.text
        items += page.json()["items"]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    types = [i["type"] for i in items]
    assert sorted(types) == sorted(
        ["booking", "payment", "chat_message", "chat_message", "message", "interaction"]
    )
    assert [(i["at"], i["id"]) for i in items] == sorted(
        ((i["at"], i["id"]) for i in items), reverse=True
    )
    texts = {i["type"]: i["text"] for i in items}
    chats = {i["text"] for i in items if i["type"] == "chat_message"}
    assert chats == {"Tisch für 4?", "Rückruf erbeten"}  # the converted lead's thread too
    assert texts["interaction"] == "Came by"
    assert texts["booking"] is None
    assert all("Erika" not in i["summary"] for i in items)
    assert client.get(f"/v1/customers/{uuid.uuid4()}/timeline", headers=h).status_code == 404
    assert client.get(url, params={"cursor": "!!"}, headers=h).status_code == 422


def test_roles_and_location_scope_apply_to_threads_and_the_timeline(
    client: TestClient, tenant: TenantFixture, key_for
) -> None:
    owner = key_for(tenant)
    customer = _customer(client, tenant, owner)
    here = _thread(client, owner, customer_id=customer["id"], channel="web")
    there = _thread(
        client,
        owner,
        customer_id=customer["id"],
        channel="web",
        location_id=str(tenant.locations[1]),
    )
    said = {"body": "Drüben", "direction": "inbound"}
    assert client.post(f"/v1/threads/{there['id']}/messages", json=said, headers=owner).is_success

    analyst = key_for(tenant, "analyst")
    assert client.get(f"/v1/threads/{here['id']}", headers=analyst).status_code == 200
    body = {"customer_id": customer["id"], "channel": "web"}
    assert client.post("/v1/threads", json=body, headers=analyst).status_code == 403
    url = f"/v1/threads/{here['id']}/messages"
    assert client.post(url, json=said, headers=analyst).status_code == 403

    scoped = key_for(tenant, "staff", [tenant.locations[0]])
    listed = client.get("/v1/threads", params={"customer_id": customer["id"]}, headers=scoped)
    assert [t["id"] for t in listed.json()["items"]] == [here["id"]]
    assert client.get(f"/v1/threads/{there['id']}", headers=scoped).status_code == 404
    far = f"/v1/threads/{there['id']}"
    assert client.post(f"{far}/messages", json=said, headers=scoped).status_code == 404
    assert client.post(f"{far}/escalate", json={"reason": "x"}, headers=scoped).status_code == 404
    timeline = f"/v1/customers/{customer['id']}/timeline"
    assert client.get(timeline, headers=scoped).json()["items"] == []
    assert [i["text"] for i in client.get(timeline, headers=owner).json()["items"]] == ["Drüben"]


def test_a_review_is_escalated_once_and_flagged(
    client: TestClient, tenant: TenantFixture, key_for, db: Database
) -> None:
    h = key_for(tenant)
    with db.platform_uow(tenant_id=tenant.id) as uow:
        review = Review(
            tenant_id=tenant.id,
            id=uow.ids(),
            location_id=tenant.locations[0],
            platform="google",
            rating=1,
            body="Kalt und spät",
            published_at=datetime(2026, 11, 1, tzinfo=UTC),
        )
        uow.session.add(review)
        uow.commit()
        review_id = review.id
    url = f"/v1/reviews/{review_id}/escalate"
    assert client.post(url, json={"reason": " "}, headers=h).status_code == 422
    made = client.post(url, json={"reason": "One star: call the guest"}, headers=h)
    assert made.status_code == 201, made.text
    assert made.json()["review_id"] == str(review_id) and made.json()["thread_id"] is None
    assert client.get(f"/v1/reviews/{review_id}", headers=h).json()["escalated"] is True
    assert client.post(url, json={"reason": "again"}, headers=h).status_code == 409


def test_a_thread_joins_a_customer_and_a_lead_only_when_they_are_one_person(
    client: TestClient, tenant: TenantFixture, key_for, db: Database
) -> None:
    h = key_for(tenant)
    customer = _customer(client, tenant, h)
    stranger = _lead(client, tenant, h)  # another e-mail: another person
    before = _count(db, "engage.threads", tenant)
    r = client.post(
        "/v1/threads",
        json={"customer_id": customer["id"], "lead_id": stranger["id"], "channel": "web"},
        headers=h,
    )
    assert r.status_code == 422, r.text
    assert _count(db, "engage.threads", tenant) == before
    same = client.post(
        "/v1/leads",
        json={
            "location_id": str(tenant.locations[0]),
            "source": "web_quote",
            "email": customer["email"],
        },
        headers=h,
    ).json()
    thread = _thread(client, h, customer_id=customer["id"], lead_id=same["id"], channel="web")
    assert thread["lead_id"] == same["id"] and thread["customer_id"] == customer["id"]


def test_an_escalation_goes_only_to_a_member_who_may_work_at_its_location(
    client: TestClient, tenant: TenantFixture, key_for, db: Database
) -> None:
    h = key_for(tenant)
    thread = _thread(client, h, customer_id=_customer(client, tenant, h)["id"], channel="web")
    assert thread["location_id"] == str(tenant.locations[0])
    elsewhere, here = _member(db, tenant), _member(db, tenant)
    with db.platform_uow(tenant_id=tenant.id) as uow:
        for user, location in ((elsewhere, tenant.locations[1]), (here, tenant.locations[0])):
            membership = uow.session.scalars(
                sa.select(Membership).where(
                    Membership.tenant_id == tenant.id, Membership.user_id == user
                )
            ).one()
            uow.session.add(
                MembershipLocation(
                    tenant_id=tenant.id, membership_id=membership.id, location_id=location
                )
            )
        uow.commit()
    before = _count(db, "engage.escalations", tenant)
    path = f"/v1/threads/{thread['id']}/escalate"
    r = client.post(path, json={"reason": "Chef", "assignee_id": str(elsewhere)}, headers=h)
    assert r.status_code == 422, r.text
    assert _count(db, "engage.escalations", tenant) == before
    r = client.post(path, json={"reason": "Chef", "assignee_id": str(here)}, headers=h)
    assert r.status_code == 201, r.text
    assert r.json()["assignee_id"] == str(here)
