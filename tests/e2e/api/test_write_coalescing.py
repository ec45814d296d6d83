"""Group commit of POST /v1/leads: a caller's concurrent captures share one transaction.

Bursts go through the ASGI app on its own event loop (`asyncio.gather` over an
`httpx.AsyncClient`), so the requests really wait for each other in the write coalescer. The
API key is cached after a first request: authentication then does not yield to the loop, and
a burst reaches the coalescer before its first batch starts. Which requests committed together
is read from the audit trail: entries of one transaction carry the same `txid`.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections import Counter

import httpx
import psycopg
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.responses import Response
from fastapi.testclient import TestClient

from tenantry.api.app import create_app
from tenantry.api.auth import Caller
from tenantry.api.deps import Ctx
from tenantry.api.idempotency import (
    Outcome,
    WriteRequest,
    Written,
    perform_writes,
)
from tenantry.api.resources.leads import LeadIn, LeadOut
from tenantry.audit.verify import verify_trail
from tenantry.config import Settings
from tenantry.db.engine import Database
from tenantry.db.provider import DatabaseTarget
from tenantry.db.uow import UnitOfWork
from tenantry.errors import DatabaseUnavailableError, IdempotencyKeyReusedError, ValidationError
from tenantry.privacy.subjects import lock_phone, phone_index
from tenantry.privacy.vault import keyring
from tenantry.services.leads import capture_lead
from tests.conftest import TenantFixture
from tests.e2e.api.conftest import Headers, api_settings

Post = tuple[dict[str, object], str | None]  # body, Idempotency-Key


def _lead(tenant: TenantFixture, email: str, **extra: object) -> dict[str, object]:
    return {
        "location_id": str(tenant.locations[0]),
        "source": "web_quote",
        "email": email,
        "first_name": "Erika",
        **extra,
    }


def _burst(
    db: Database, settings: Settings, headers: Headers, posts: list[Post], **overrides: object
) -> list[httpx.Response]:
    """Send `posts` to /v1/leads all at once, on a fresh app with these settings."""
    app = create_app(db, settings=api_settings(settings, api_key_cache_seconds=60, **overrides))

    async def run() -> list[httpx.Response]:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                assert (await client.get("/v1/leads", headers=headers)).status_code == 200
                return await asyncio.gather(
                    *(
                        client.post(
                            "/v1/leads",
                            json=body,
                            headers=headers | ({"Idempotency-Key": key} if key else {}),
                        )
                        for body, key in posts
                    )
                )

    return asyncio.run(run())


def _txids(db: Database, tenant: TenantFixture) -> dict[str, str]:
    """The transaction that inserted each of the tenant's leads, by lead id."""
    with db.platform_uow() as uow:
        rows = uow.session.execute(
            sa.text(
                "SELECT row_id, txid::text FROM audit.log"
                " WHERE tenant_id = :t AND table_name = 'crm.leads' AND op = 'I'"
            ),
            {"t": tenant.id},
        )
        return {str(row_id): txid for row_id, txid in rows}


def _subjects(db: Database, tenant: TenantFixture) -> dict[str, uuid.UUID]:
    """The data subject of each of the tenant's leads, read as the owner."""
    with db.platform_uow() as uow:
        rows = uow.session.execute(
            sa.text("SELECT id, subject_id FROM crm.leads WHERE tenant_id = :t"), {"t": tenant.id}
        )
        return {str(lead_id): subject_id for lead_id, subject_id in rows}


def _ids(responses: list[httpx.Response]) -> list[str]:
    return [r.json()["id"] for r in responses]


def test_concurrent_captures_of_one_caller_commit_together(
    db: Database,
    target: DatabaseTarget,
    settings: Settings,
    client: TestClient,
    tenant: TenantFixture,
    key_for,
) -> None:
    h = key_for(tenant)
    emails = [f"burst-{i}@example.com" for i in range(20)]
    responses = _burst(
        db, settings, h, [(_lead(tenant, e), f"capture-{i}") for i, e in enumerate(emails)]
    )
    assert [r.status_code for r in responses] == [201] * 20, responses[0].text
    ids = _ids(responses)
    assert len(set(ids)) == 20
    txids = _txids(db, tenant)
    assert set(txids) == set(ids)
    assert max(Counter(txids.values()).values()) > 1, "no two captures shared a transaction"
    for response, email in zip(responses, emails, strict=True):
        got = client.get(f"/v1/leads/{response.json()['id']}", headers=h)
        assert got.status_code == 200 and got.json()["email"] == email
        assert got.json() == response.json()
    assert len(set(_subjects(db, tenant).values())) == 20
    with psycopg.connect(target.libpq(target.owner_url)) as conn:
        assert verify_trail(conn, settings, tenant=tenant.id).intact


def test_one_bad_capture_in_a_burst_does_not_fail_the_others(
    db: Database,
    settings: Settings,
    client: TestClient,
    tenant: TenantFixture,
    other_tenant: TenantFixture,
    key_for,
) -> None:
    h = key_for(tenant)
    foreign = _lead(tenant, "foreign@example.com", location_id=str(other_tenant.locations[0]))
    lone = client.post("/v1/leads", json=foreign, headers=h)
    assert lone.status_code == 422, lone.text  # the composite foreign key refuses it
    assert lone.json()["type"] == "urn:tenantry:problem:reference-not-found"
    posts: list[Post] = [(_lead(tenant, f"fine-{i}@example.com"), f"k-{i}") for i in range(9)]
    posts.insert(4, (foreign, "k-foreign"))
    responses = _burst(db, settings, h, posts)
    bad = responses.pop(4)
    assert bad.status_code == lone.status_code
    assert bad.headers["content-type"].startswith("application/problem+json")
    assert bad.json()["type"] == lone.json()["type"]
    assert [r.status_code for r in responses] == [201] * 9
    assert set(_subjects(db, tenant)) == set(_ids(responses))


def test_a_repeated_key_in_a_burst_writes_once_and_replays(
    db: Database, settings: Settings, tenant: TenantFixture, key_for
) -> None:
    same = _lead(tenant, "twice@example.com")
    posts: list[Post] = [
        (same, "dup"),
        (_lead(tenant, "other@example.com"), "other"),
        (same, "dup"),
        (_lead(tenant, "reuse@example.com"), "reused"),
        (_lead(tenant, "reuse@example.com", score=99), "reused"),
    ]
    first, other, again, kept, refused = _burst(db, settings, key_for(tenant), posts)
    assert [first.status_code, other.status_code, again.status_code] == [201, 201, 201]
    assert again.json() == first.json()
    assert again.headers.get("idempotent-replayed") == "true"
    assert "idempotent-replayed" not in first.headers
    assert kept.status_code == 201 and refused.status_code == 422
    assert refused.json()["type"] == "urn:tenantry:problem:idempotency-key-reused"
    assert set(_subjects(db, tenant)) == {first.json()["id"], other.json()["id"], kept.json()["id"]}


def test_a_key_already_on_record_replays_in_a_burst(
    db: Database, settings: Settings, client: TestClient, tenant: TenantFixture, key_for
) -> None:
    h = key_for(tenant)
    body = _lead(tenant, "early@example.com")
    earlier = client.post("/v1/leads", json=body, headers=h | {"Idempotency-Key": "K"})
    assert earlier.status_code == 201
    posts: list[Post] = [(_lead(tenant, f"fresh-{i}@example.com"), f"f-{i}") for i in range(4)]
    posts.insert(2, (body, "K"))
    responses = _burst(db, settings, h, posts)
    replayed = responses.pop(2)
    assert replayed.status_code == 201 and replayed.json() == earlier.json()
    assert replayed.headers.get("idempotent-replayed") == "true"
    assert [r.status_code for r in responses] == [201] * 4
    assert set(_subjects(db, tenant)) == {earlier.json()["id"], *_ids(responses)}
    txids = _txids(db, tenant)
    assert len({txids[i] for i in _ids(responses)}) == 1, "the replay broke up the batch"


def test_captures_in_a_burst_share_the_subject_of_their_address(
    db: Database, settings: Settings, client: TestClient, tenant: TenantFixture, key_for
) -> None:
    h = key_for(tenant)
    known = client.post("/v1/leads", json=_lead(tenant, "known@example.org"), headers=h)
    assert known.status_code == 201
    emails = ["Twin@Example.org", "twin@example.org", "KNOWN@example.org"]
    emails += [f"new-{i}@example.org" for i in range(3)]
    responses = _burst(db, settings, h, [(_lead(tenant, e), None) for e in emails])
    assert [r.status_code for r in responses] == [201] * 6
    ids = _ids(responses)
    assert len({_txids(db, tenant)[i] for i in ids}) == 1, "the burst was not one transaction"
    subjects = _subjects(db, tenant)
    twin, twin_again, known_again, *new = (subjects[i] for i in ids)
    assert twin == twin_again
    assert known_again == subjects[known.json()["id"]]
    assert len({twin, known_again, *new}) == 5
    for lead_id, email in zip(ids, emails, strict=True):
        assert client.get(f"/v1/leads/{lead_id}", headers=h).json()["email"] == email.lower()
    with db.platform_uow() as uow:
        count = uow.session.execute(
            sa.text("SELECT count(*) FROM privacy.subjects WHERE tenant_id = :t"), {"t": tenant.id}
        ).scalar_one()
    assert count == 5


def test_with_a_write_batch_of_one_every_capture_commits_alone(
    db: Database, settings: Settings, tenant: TenantFixture, key_for
) -> None:
    posts: list[Post] = [(_lead(tenant, f"alone-{i}@example.com"), f"a-{i}") for i in range(20)]
    responses = _burst(db, settings, key_for(tenant), posts, api_write_batch=1)
    assert [r.status_code for r in responses] == [201] * 20
    txids = _txids(db, tenant)
    assert set(txids) == set(_ids(responses))
    assert len(set(txids.values())) == 20


def _request(ctx: Ctx, body: LeadIn, key: str | None) -> WriteRequest:
    def write(uow: UnitOfWork) -> Written:
        lead = capture_lead(uow, ctx.principal, **body.model_dump())
        return Written(201, LeadOut.model_validate(lead), "lead", lead.id)

    return WriteRequest(ctx, "POST", "/v1/leads", body, key, write)


def _id(outcome: Outcome) -> str:
    assert isinstance(outcome, Response), outcome
    return LeadOut.model_validate_json(bytes(outcome.body)).id.hex


def test_perform_writes_runs_repeated_keys_and_failures_alone(
    db: Database, app: FastAPI, tenant: TenantFixture
) -> None:
    ctx = Ctx(Caller(principal=tenant.principal(), ref=f"test:{uuid.uuid4()}"), app.state.api)

    def body(email: str | None, **extra: object) -> LeadIn:
        return LeadIn.model_validate(_lead(tenant, "", **extra) | {"email": email})

    a = body("a@example.com")
    outcomes = perform_writes(
        [
            _request(ctx, a, "a"),
            _request(ctx, body("b@example.com"), "b"),
            _request(ctx, a, "a"),
            _request(ctx, body("c@example.com"), None),
            _request(ctx, body("a@example.com", score=7), "a"),
        ]
    )
    first, second, replay, third, reused = outcomes
    assert isinstance(reused, IdempotencyKeyReusedError)
    assert isinstance(replay, Response)
    assert replay.headers.get("idempotent-replayed") == "true" and _id(replay) == _id(first)
    txids = {uuid.UUID(k).hex: t for k, t in _txids(db, tenant).items()}
    assert set(txids) == {_id(first), _id(second), _id(third)}
    assert len(set(txids.values())) == 1

    failing = perform_writes(
        [
            _request(ctx, body("d@example.com"), "d"),
            _request(ctx, body(None), "no-contact"),
            _request(ctx, body("e@example.com"), None),
        ]
    )
    assert isinstance(failing[1], ValidationError)
    assert "needs an email or a phone" in str(failing[1])
    written = {_id(failing[0]), _id(failing[2])}
    txids = {uuid.UUID(k).hex: t for k, t in _txids(db, tenant).items()}
    assert set(txids) == {_id(first), _id(second), _id(third), *written}
    assert len({txids[i] for i in written}) == 2, "after a failure each write runs alone"


def test_a_batch_whose_commit_answer_is_lost_is_not_written_again(
    db: Database, app: FastAPI, tenant: TenantFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The COMMIT reached the database but its answer did not come back (the connection
    dropped): the batch is committed, so running its writes alone again would write twice."""
    ctx = Ctx(Caller(principal=tenant.principal(), ref=f"test:{uuid.uuid4()}"), app.state.api)
    commit = UnitOfWork.commit

    def commit_then_lose_the_answer(uow: UnitOfWork) -> None:
        commit(uow)
        raise DatabaseUnavailableError("database unavailable (08006)")

    monkeypatch.setattr(UnitOfWork, "commit", commit_then_lose_the_answer)
    outcomes = perform_writes(
        [
            _request(ctx, LeadIn.model_validate(_lead(tenant, f"lost-{i}@example.com")), None)
            for i in range(3)
        ]
    )
    assert all(isinstance(o, DatabaseUnavailableError) for o in outcomes)
    assert len(_txids(db, tenant)) == 3, "each write once, in the one committed batch"


def test_a_burst_of_phone_and_e_mail_captures_commits_together(
    db: Database, settings: Settings, tenant: TenantFixture, key_for
) -> None:
    """Phone-only and e-mail captures in one burst: one transaction, a subject each."""
    h = key_for(tenant)
    posts: list[Post] = [
        (_lead(tenant, f"mixed-{i}@example.com"), f"mixed-{i}") for i in range(3)
    ] + [
        ({**_lead(tenant, ""), "email": None, "phone": f"+49 30 55500{i}"}, f"phone-{i}")
        for i in range(3)
    ]
    responses = _burst(db, settings, h, posts)
    assert [r.status_code for r in responses] == [201] * 6, [r.text for r in responses]
    txids = _txids(db, tenant)
    assert set(txids) == set(_ids(responses))
    assert len(set(txids.values())) == 1
    with db.platform_uow() as uow:
        subjects = uow.session.execute(
            sa.text("SELECT count(DISTINCT subject_id) FROM crm.leads WHERE tenant_id = :t"),
            {"t": tenant.id},
        ).scalar_one()
    assert subjects == 6


def test_a_batch_takes_its_phone_locks_before_the_audit_chain(
    db: Database, app: FastAPI, tenant: TenantFixture
) -> None:
    """Another transaction holds a phone's advisory lock and will next append to the audit
    trail. A batch that needs the same phone must wait for that lock before it takes the
    tenant's audit chain head; the other way round the two wait for each other (deadlock)."""
    ctx = Ctx(Caller(principal=tenant.principal(), ref=f"test:{uuid.uuid4()}"), app.state.api)
    phone = "+49 30 5559876"
    locked, go = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def holder() -> None:
        try:
            with db.tenant_uow(tenant.id, actor="test:holder") as uow:
                lock_phone(uow, [phone_index(keyring(uow), phone)[0]])
                locked.set()
                go.wait(10)
                capture_lead(
                    uow, tenant.principal(), location_id=tenant.locations[0], source="phone",
                    phone=phone,
                )  # fmt: skip
                uow.commit()
        except BaseException as exc:
            errors.append(exc)

    with db.tenant_uow(tenant.id) as uow:  # the tenant's keys (an audited insert) exist first
        phone_index(keyring(uow), phone)
        uow.commit()
    other = threading.Thread(target=holder)
    other.start()
    assert locked.wait(10)
    body = {**_lead(tenant, ""), "email": None, "phone": phone}
    batch = [
        _request(ctx, LeadIn.model_validate(_lead(tenant, "chain@example.com")), None),
        _request(ctx, LeadIn.model_validate(body), None),
    ]
    outcomes: list[Outcome] = []
    writer = threading.Thread(target=lambda: outcomes.extend(perform_writes(batch)))
    writer.start()
    time.sleep(0.5)  # the batch is now waiting for one of the two locks
    go.set()
    other.join(15)
    writer.join(15)
    assert not errors, errors
    ids = [_id(o) for o in outcomes]
    txids = {uuid.UUID(k).hex: t for k, t in _txids(db, tenant).items()}
    assert len({txids[i] for i in ids}) == 1, "the batch committed as one, not run alone"


def test_a_batch_whose_connection_dies_at_commit_is_not_run_again(
    db: Database,
    app: FastAPI,
    target: DatabaseTarget,
    tenant: TenantFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A real disconnect at COMMIT (the server ends the backend): the outcome is unknown to
    the API, so each request gets the error and no write runs a second time."""
    ctx = Ctx(Caller(principal=tenant.principal(), ref=f"test:{uuid.uuid4()}"), app.state.api)
    commit = UnitOfWork.commit
    commits: list[int] = []

    def lose_the_connection_then_commit(uow: UnitOfWork) -> None:
        commits.append(1)
        pid = uow.session.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()
        with psycopg.connect(target.libpq(target.admin_url), autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s, 5000)", (pid,))
        commit(uow)

    monkeypatch.setattr(UnitOfWork, "commit", lose_the_connection_then_commit)
    outcomes = perform_writes(
        [
            _request(ctx, LeadIn.model_validate(_lead(tenant, f"cut-{i}@example.com")), None)
            for i in range(3)
        ]
    )
    assert all(isinstance(o, DatabaseUnavailableError) for o in outcomes), outcomes
    assert len({id(o) for o in outcomes}) == 3, "one error object per request"
    assert len(commits) == 1, "the writes were not run again, alone"
    assert _txids(db, tenant) == {}, "the batch died with its connection"


def test_a_key_on_record_in_a_batch_replays_and_the_others_commit_together(
    db: Database, app: FastAPI, tenant: TenantFixture
) -> None:
    # A busy caller's records of the last day, written faster than statistics follow: the
    # batch's keys are checked by their unique index when its records go in, not by a lookup
    # whose plan depends on the statistics (one read all of the caller's records).
    ctx = Ctx(Caller(principal=tenant.principal(), ref=f"test:{uuid.uuid4()}"), app.state.api)
    with psycopg.connect(db.target.libpq(db.target.owner_url), autocommit=True) as conn:
        conn.execute(
            "INSERT INTO events.idempotency_keys (tenant_id, principal_ref, key, salt,"
            " request_hash, status_code, created_at, updated_at, expires_at)"
            " SELECT %s, %s, 'k-' || n, '\\x00', '\\x00', 201, now(), now(),"
            " now() + interval '1 day' FROM generate_series(1, 3000) AS n",
            (tenant.id, ctx.caller.ref),
        )

    def body(email: str) -> LeadIn:
        return LeadIn.model_validate(_lead(tenant, email))

    outcomes = perform_writes(
        [
            _request(ctx, body("new-1@example.com"), "k-new-1"),
            _request(ctx, body("old@example.com"), "k-7"),  # on record, for another request
            _request(ctx, body("new-2@example.com"), "k-new-2"),
        ]
    )
    assert isinstance(outcomes[1], IdempotencyKeyReusedError)
    written = {_id(outcomes[0]), _id(outcomes[2])}
    txids = {uuid.UUID(k).hex: t for k, t in _txids(db, tenant).items()}
    assert set(txids) == written, "the request whose key is on record wrote nothing"
    assert len(set(txids.values())) == 1, "the others still committed together"
