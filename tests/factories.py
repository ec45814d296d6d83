"""Test data builders: one valid row in every tenant-owned table, inserted as the owner."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from tenantry.db.engine import Database
from tenantry.models import (
    AnalysisRun,
    AnalyticsSnapshot,
    ApiKey,
    Booking,
    BookingItem,
    Campaign,
    CapacityClaim,
    ChatMessage,
    Connection,
    Coupon,
    Customer,
    DailyCapacity,
    DateException,
    DoiToken,
    EmailEvent,
    ErasureReceipt,
    Escalation,
    Evidence,
    IdempotencyRecord,
    IdentityLink,
    InboxEvent,
    Invoice,
    InvoiceCounter,
    InvoiceLine,
    Lead,
    LeadInteraction,
    LeadScoreHistory,
    Location,
    MailboxCursor,
    MatchDecision,
    Membership,
    MembershipLocation,
    Message,
    MessagePurge,
    OpeningInterval,
    OutboxEntry,
    PayerAlias,
    Payment,
    PaymentNotification,
    ProjectionPosition,
    Recommendation,
    RecommendationEvidence,
    Reservation,
    ReservationSlot,
    Resource,
    RetentionPolicy,
    Retrieval,
    Review,
    Service,
    ServiceRequirement,
    Statement,
    StatementEvidence,
    SubjectKey,
    TenantKey,
    Thread,
    User,
    Vehicle,
    VisibilityCheck,
    WebhookEndpoint,
)
from tenantry.models.base import Base
from tenantry.models.enums import ConsentPurpose, DsarKind, HoldScope, MembershipRole
from tenantry.models.experiments import Decision, Experiment, ExperimentArm, Posterior
from tenantry.privacy.keys import KeyRing
from tenantry.privacy.subjects import resolve_subject
from tenantry.services.principal import Principal
from tenantry.services.privacy.consent import Notice, append_consent
from tenantry.services.privacy.doi import issue_opt_in
from tenantry.services.privacy.dsar import open_request
from tenantry.services.privacy.retention import place_hold
from tests.conftest import TEST_MASTER

T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)
NOTICE = Notice("2026-01", "We send our newsletter once a month. You can withdraw at any time.")


def populate_every_table(db: Database, tenant_id: uuid.UUID) -> dict[str, Base]:
    """Insert one row per tenant table for `tenant_id`; returns them keyed by table name."""
    ids = db.ids
    t = tenant_id
    with db.platform_uow(tenant_id=tenant_id) as uow:
        s = uow.session
        loc = Location(
            tenant_id=t, id=ids(), name="Main", slug=f"main-{ids().hex[:8]}", vertical="restaurant"
        )
        user = User(id=ids(), email=f"staff-{ids().hex}@example.com")
        s.add_all([loc, user])
        s.flush()
        member = Membership(tenant_id=t, id=ids(), user_id=user.id, role="manager")
        cust = Customer(
            tenant_id=t,
            id=ids(),
            home_location_id=loc.id,
            first_name="Erika",
            last_name="Example",
            email=f"erika-{ids().hex[:6]}@example.org",
        )
        s.add_all([member, cust])
        s.flush()
        veh = Vehicle(
            tenant_id=t,
            id=ids(),
            customer_id=cust.id,
            make="Volkswagen",
            model="Golf",
            tuv_due_on=date(2026, 5, 1),
        )
        lead = Lead(
            tenant_id=t,
            id=ids(),
            location_id=loc.id,
            source="web_quote",
            email="lead@example.com",
            score=50,
        )
        svc = Service(
            tenant_id=t,
            id=ids(),
            location_id=loc.id,
            kind="menu_item",
            name="Menu",
            price_cents=1500,
        )
        link = IdentityLink(
            tenant_id=t,
            id=ids(),
            location_id=loc.id,
            source="gbp",
            external_id=f"ChIJ{ids().hex}",
            first_seen_at=T0,
            last_seen_at=T0,
        )
        scope = MembershipLocation(tenant_id=t, membership_id=member.id, location_id=loc.id)
        s.add_all([veh, lead, svc, link, scope])
        s.flush()
        booking = Booking(
            tenant_id=t,
            id=ids(),
            location_id=loc.id,
            customer_id=cust.id,
            kind="reservation",
            starts_at=T0 + timedelta(days=2),
            total_cents=3000,
        )
        score = LeadScoreHistory(
            tenant_id=t, id=ids(), lead_id=lead.id, score=60, reason="test", scored_at=T0
        )
        inter = LeadInteraction(
            tenant_id=t,
            id=ids(),
            lead_id=lead.id,
            kind="email",
            channel="email",
            direction="outbound",
            occurred_at=T0,
        )
        thread = Thread(
            tenant_id=t, id=ids(), location_id=loc.id, customer_id=cust.id, channel="sms"
        )
        campaign = Campaign(tenant_id=t, id=ids(), name="Spring", channel="email")
        conn = Connection(
            tenant_id=t,
            id=ids(),
            location_id=loc.id,
            provider="instagram",
            access_token="token-not-real",
        )
        check = VisibilityCheck(
            tenant_id=t, id=ids(), location_id=loc.id, requested_at=T0, overall_score=70
        )
        s.add_all([booking, score, inter, thread, campaign, conn, check])
        s.flush()
        item = BookingItem(
            tenant_id=t,
            id=ids(),
            booking_id=booking.id,
            service_id=svc.id,
            description="Menu",
            quantity=2,
            unit_price_cents=1500,
        )
        pay = Payment(
            tenant_id=t,
            id=ids(),
            booking_id=booking.id,
            kind="full",
            method="card",
            status="succeeded",
            amount_cents=3000,
            paid_at=T0,
        )
        inv = Invoice(
            tenant_id=t,
            id=ids(),
            booking_id=booking.id,
            customer_id=cust.id,
            number=f"R-{ids().hex[:8]}",
            issued_on=date(2026, 3, 1),
            net_cents=2521,
            tax_cents=479,
            gross_cents=3000,
        )
        msg = Message(
            tenant_id=t,
            id=ids(),
            thread_id=thread.id,
            channel="sms",
            direction="inbound",
            author_kind="customer",
            body="Hallo",
            sent_at=T0,
        )
        review = Review(
            tenant_id=t,
            id=ids(),
            location_id=loc.id,
            booking_id=booking.id,
            platform="google",
            rating=5,
            published_at=T0,
        )
        event = EmailEvent(
            tenant_id=t,
            id=ids(),
            campaign_id=campaign.id,
            customer_id=cust.id,
            event_type="delivered",
            recipient="erika@example.org",
            occurred_at=T0,
        )
        retrieval = Retrieval(
            tenant_id=t,
            id=ids(),
            location_id=loc.id,
            visibility_check_id=check.id,
            collector="website",
            source="website",
            uri="https://www.example.com/",
            status_code=200,
            content_hash=hashlib.sha256(b"<html></html>").hexdigest(),
            body="PGh0bWw+PC9odG1sPg==",
            body_bytes=13,
            retrieved_at=T0,
        )
        s.add(retrieval)
        s.flush()
        evidence = Evidence(
            tenant_id=t,
            id=ids(),
            location_id=loc.id,
            visibility_check_id=check.id,
            retrieval_id=retrieval.id,
            fact_key="gbp.rating",
            value=4.6,
            claim="Has 4.6 stars",
            source="gbp",
            retrieved_at=T0,
            confidence=Decimal("0.9"),
            content_hash=hashlib.sha256(b"claim").hexdigest(),
        )
        rec = Recommendation(
            tenant_id=t,
            id=ids(),
            location_id=loc.id,
            title="Add photos",
            body="More photos",
            category="gbp",
        )
        chat = ChatMessage(
            tenant_id=t,
            id=ids(),
            thread_id=thread.id,
            channel="sms",
            direction="inbound",
            author_kind="customer",
            body="Kann ich morgen kommen?",
            sent_at=T0,
        )
        escalation = Escalation(
            tenant_id=t,
            id=ids(),
            location_id=loc.id,
            thread_id=thread.id,
            assignee_id=user.id,
            reason="Customer asks for the manager",
            escalated_by="test",
        )
        purge = MessagePurge(
            tenant_id=t,
            id=ids(),
            month=date(2025, 11, 1),
            partition_name="chat_messages_y2025m11",
            rows_dropped=3,
            purged_at=T0,
        )
        s.add_all([item, pay, inv, msg, chat, escalation, purge, review, event, evidence, rec])
        s.flush()
        note = PaymentNotification(
            tenant_id=t,
            id=ids(),
            provider="zelle",
            transaction_id=f"tx-{ids().hex[:8]}",
            amount_cents=3000,
            received_at=T0,
            matched_booking_id=booking.id,
            matched_payment_id=pay.id,
            match_status="matched",
        )
        rec_ev = RecommendationEvidence(
            tenant_id=t, recommendation_id=rec.id, evidence_id=evidence.id
        )
        snap = AnalyticsSnapshot(
            tenant_id=t,
            id=ids(),
            location_id=loc.id,
            evidence_id=evidence.id,
            source="gbp",
            metric="views",
            value=Decimal(120),
            captured_on=date(2026, 3, 1),
        )
        inbox = InboxEvent(
            tenant_id=t,
            id=ids(),
            event_type="step_completed",
            event_ts=T0,
            location_id=loc.id,
            properties={"step_id": "profile"},
        )
        outbox = OutboxEntry(
            tenant_id=t,
            id=ids(),
            aggregate_type="lead",
            aggregate_id=lead.id,
            event_type="lead.created",
            occurred_at=T0,
        )
        position = ProjectionPosition(tenant_id=t, projection="identity_links")
        api_key = ApiKey(
            tenant_id=t,
            id=ids(),
            name="test",
            prefix="tnry_test",
            secret_hash=hashlib.sha256(ids().bytes).digest(),
            role="staff",
        )
        retry = IdempotencyRecord(
            tenant_id=t,
            principal_ref=f"apikey:{api_key.id}",
            key="retry-1",
            salt=b"s" * 16,
            request_hash=b"h" * 32,
            status_code=201,
            resource_kind="lead",
            resource_id=lead.id,
            expires_at=T0 + timedelta(days=1),
        )
        run = AnalysisRun(
            tenant_id=t,
            id=ids(),
            visibility_check_id=check.id,
            provider="rules",
            model="test",
            input_evidence_ids=[evidence.id],
            started_at=T0,
        )
        s.add(run)
        s.flush()
        statement = Statement(
            tenant_id=t,
            id=ids(),
            visibility_check_id=check.id,
            location_id=loc.id,
            analysis_run_id=run.id,
            kind="strength",
            text="Rated 4.6 on Google",
            published_at=T0,
        )
        s.add(statement)
        s.flush()
        cites = StatementEvidence(tenant_id=t, statement_id=statement.id, evidence_id=evidence.id)
        s.add_all([note, rec_ev, snap, inbox, outbox, position, api_key, retry, cites])
        s.flush()
        decision, alias = (
            MatchDecision(
                tenant_id=t,
                id=ids(),
                notification_id=note.id,
                booking_id=booking.id,
                action="auto_matched",
                confidence=Decimal("0.97"),
                reasons=[{"feature": "amount", "detail": "deposit", "weight": 3.0}],
                decided_by="matcher",
                decided_at=T0,
            ),
            PayerAlias(
                tenant_id=t,
                id=ids(),
                customer_id=cust.id,
                payer_key=bytes(32),
                payer_name="Max Mustermann",
                notification_id=note.id,
                confirmed_by="test",
            ),
        )
        s.add_all([decision, alias])
        billing = _billing_rows(s, ids, t, inv, review, cust.id, booking.id, svc.id)
        sched = _scheduling_rows(s, ids, t, loc.id, svc.id, booking.id)
        inbound = _inbound_rows(s, ids, t)
        experiments = _experiment_rows(s, ids, t)
        uow.commit()
        rows = [
            loc,
            member,
            cust,
            veh,
            lead,
            svc,
            link,
            scope,
            booking,
            score,
            inter,
            thread,
            campaign,
            conn,
            check,
            item,
            pay,
            inv,
            msg,
            chat,
            escalation,
            purge,
            review,
            event,
            retrieval,
            evidence,
            run,
            statement,
            cites,
            rec,
            note,
            rec_ev,
            snap,
            inbox,
            outbox,
            position,
            api_key,
            retry,
            decision,
            alias,
            *sched,
            *inbound,
            *billing,
            *experiments,
        ]
    rows += _privacy_rows(db, t, cust.email or "")
    return {row.__table__.fullname: row for row in rows}  # type: ignore[attr-defined]


def _experiment_rows(s: Session, ids: Callable[[], uuid.UUID], t: uuid.UUID) -> list[Base]:
    """An experiment with one arm, a posterior and one logged decision."""
    exp = Experiment(tenant_id=t, id=ids(), slot="welcome", name="Welcome", default_arm="a")
    s.add(exp)
    s.flush()
    arm = ExperimentArm(tenant_id=t, id=ids(), experiment_id=exp.id, key="a", position=0)
    post = Posterior(tenant_id=t, id=ids(), experiment_id=exp.id, arm="a", cell="*|*|*")
    logged = Decision(
        tenant_id=t,
        id=ids(),
        experiment_id=exp.id,
        arm="a",
        user_key="uk_" + ids().hex[:20],
        cell="*|*|*",
        propensity=1.0,
        policy="uniform",
        decided_at=T0,
        expires_at=T0 + timedelta(days=7),
    )
    s.add_all([arm, post, logged])
    s.flush()
    return [exp, arm, post, logged]


def _billing_rows(
    s: Session,
    ids: Callable[[], uuid.UUID],
    t: uuid.UUID,
    inv: Invoice,
    review: Review,
    customer_id: uuid.UUID,
    booking_id: uuid.UUID,
    service_id: uuid.UUID,
) -> list[Base]:
    """An issued invoice's line and its number counter, and a review coupon."""
    line = InvoiceLine(
        tenant_id=t,
        id=ids(),
        invoice_id=inv.id,
        position=1,
        service_id=service_id,
        description="Menu",
        quantity=2,
        unit_price_cents=1500,
        vat_rate_bp=1900,
        net_cents=2521,
        tax_cents=479,
        gross_cents=3000,
    )
    counter = InvoiceCounter(tenant_id=t, id=ids(), series="invoice", year=2026, last_value=1)
    coupon = Coupon(
        tenant_id=t,
        id=ids(),
        review_id=review.id,
        customer_id=customer_id,
        booking_id=booking_id,
        amount_cents=300,
        currency="EUR",
        code_hash=hashlib.sha256(ids().bytes).digest(),
        issued_by="test",
    )
    s.add_all([line, counter, coupon])
    s.flush()
    inv.status, inv.updated_at = "issued", T0  # issued last: its lines are fixed from here on
    s.flush()
    return [line, counter, coupon]


def _scheduling_rows(
    s: Session,
    ids: Callable[[], uuid.UUID],
    t: uuid.UUID,
    location_id: uuid.UUID,
    service_id: uuid.UUID,
    booking_id: uuid.UUID,
) -> list[Base]:
    """Rows of the scheduling schema; the reservation's granules are the trigger's."""
    res = Resource(tenant_id=t, id=ids(), location_id=location_id, kind="staff", name="Bay 1")
    hours = OpeningInterval(
        tenant_id=t,
        id=ids(),
        location_id=location_id,
        weekday=1,
        opens_minute=540,
        closes_minute=1020,
    )
    closed = DateException(
        tenant_id=t, id=ids(), location_id=location_id, on_date=date(2026, 12, 25), reason="Holiday"
    )
    day = DailyCapacity(
        tenant_id=t,
        id=ids(),
        location_id=location_id,
        on_date=T0.date(),
        max_events=3,
        max_guests=200,
    )
    s.add_all([res, hours, closed, day])
    s.flush()
    need = ServiceRequirement(tenant_id=t, id=ids(), service_id=service_id, resource_kind="staff")
    held = Reservation(
        tenant_id=t,
        id=ids(),
        booking_id=booking_id,
        resource_id=res.id,
        starts_at=T0 + timedelta(days=2),
        ends_at=T0 + timedelta(days=2, hours=1),
    )
    claim = CapacityClaim(
        tenant_id=t, booking_id=booking_id, location_id=location_id, on_date=T0.date(), guests=2
    )
    s.add_all([need, held, claim])
    s.flush()
    slot = s.scalars(
        select(ReservationSlot).where(
            ReservationSlot.tenant_id == t, ReservationSlot.reservation_id == held.id
        )
    ).first()
    assert slot is not None
    return [res, hours, closed, day, need, held, claim, slot]


def _inbound_rows(s: Session, ids: Callable[[], uuid.UUID], t: uuid.UUID) -> list[Base]:
    """A Stripe signing secret and an IMAP cursor (schema `commerce`)."""
    endpoint = WebhookEndpoint(tenant_id=t, id=ids(), provider="stripe", label="test")
    endpoint.secret = "whsec_test_not_a_real_secret"
    cursor = MailboxCursor(
        tenant_id=t,
        id=ids(),
        mailbox="imaps://payments@mail.example.com:993/INBOX",
        uidvalidity=1,
        last_uid=7,
    )
    s.add_all([endpoint, cursor])
    s.flush()
    return [endpoint, cursor]


def _privacy_rows(db: Database, t: uuid.UUID, email: str) -> list[Base]:
    """Rows of the privacy schema, made through the privacy kernel's own code paths."""
    with db.platform_uow(tenant_id=t) as uow:
        ring = KeyRing(uow, TEST_MASTER)
        subject = resolve_subject(uow, ring, email=email, phone="+49 30 1234567")
        consent = append_consent(
            uow, subject.id, ConsentPurpose.ANALYTICS, "granted", source="web_form", notice=NOTICE
        )
        pending = issue_opt_in(
            uow,
            ring,
            email="optin@example.org",
            purpose=ConsentPurpose.MARKETING_EMAIL,
            notice=NOTICE,
        )
        hold = place_hold(
            uow,
            Principal(tenant_id=t, role=MembershipRole.DPO),
            scope=HoldScope.DATASET,
            dataset="commerce.invoices",
            reason="tax audit",
            placed_by="test",
        )
        policy = RetentionPolicy(
            tenant_id=t,
            dataset="engage.email_events",
            period_months=12,
            action="delete",
            reason="shorter than the default",
        )
        uow.session.add(policy)
        request = open_request(uow, ring, kind=DsarKind.ERASURE, email=email)
        receipt = ErasureReceipt(
            tenant_id=t,
            id=db.ids(),
            request_id=request.id,
            erased_lookup=b"x" * 32,
            replacement="erased-0000000000000000",
            performed_at=T0,
            summary={},
            keys_destroyed=0,
            scan_hits=0,
            receipt_hash="0" * 64,
        )
        uow.session.add(receipt)
        uow.commit()
        s = uow.session
        tenant_key = s.scalars(select(TenantKey).where(TenantKey.tenant_id == t)).first()
        subject_key = s.scalars(select(SubjectKey).where(SubjectKey.tenant_id == t)).first()
        token = s.get(DoiToken, (t, pending.token_id))
        assert tenant_key and subject_key and token
        return [subject, consent, hold, policy, tenant_key, subject_key, token, request, receipt]
