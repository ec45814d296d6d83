"""Schema `engage`: conversations across channels, reviews, campaigns and e-mail events."""

from __future__ import annotations

import uuid
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from tenantry.models.base import (
    Base,
    SubjectLinked,
    TenantOwned,
    str_enum,
    subject_ref,
    tenant_fk,
    tenant_root_fk,
)
from tenantry.models.enums import (
    AuthorKind,
    CampaignStatus,
    Channel,
    Direction,
    EmailEventType,
    EscalationStatus,
    ReviewPlatform,
    ThreadStatus,
)
from tenantry.models.sealed import SealedField, sealed_column

__all__ = [
    "Campaign",
    "ChatMessage",
    "EmailEvent",
    "Escalation",
    "Message",
    "MessagePurge",
    "Review",
    "Thread",
]

SCHEMA = {"schema": "engage"}


class Thread(SubjectLinked, TenantOwned, Base):
    """A conversation with a customer or lead on one channel."""

    __tablename__ = "threads"
    __subject_parents__ = (("customer_id", "crm.customers"), ("lead_id", "crm.leads"))
    __table_args__ = (
        *subject_ref("threads"),
        tenant_root_fk(),
        tenant_fk("location_id", "identity.locations"),
        tenant_fk("customer_id", "crm.customers"),
        tenant_fk("lead_id", "crm.leads"),
        sa.Index("ix_threads_tenant_status_last_message", "tenant_id", "status", "last_message_at"),
        sa.Index("ix_threads_tenant_customer", "tenant_id", "customer_id"),
        SCHEMA,
    )

    location_id: Mapped[uuid.UUID | None]
    customer_id: Mapped[uuid.UUID | None]
    lead_id: Mapped[uuid.UUID | None]
    channel: Mapped[Channel] = mapped_column(str_enum(Channel, "channel"))
    subject = SealedField("free_text", 300)
    subject_sealed: Mapped[bytes | None] = sealed_column("subject", "free_text")
    status: Mapped[ThreadStatus] = mapped_column(
        str_enum(ThreadStatus, "thread_status"), server_default=ThreadStatus.OPEN.value
    )
    last_message_at: Mapped[datetime | None]


class Message(SubjectLinked, TenantOwned, Base):
    """One message of correspondence (e-mail) in a thread, kept for the legal period."""

    __tablename__ = "messages"
    __subject_parents__ = (("thread_id", "engage.threads"),)
    __table_args__ = (
        *subject_ref("messages"),
        tenant_fk("thread_id", "engage.threads", ondelete="CASCADE"),
        sa.Index("ix_messages_tenant_thread_sent", "tenant_id", "thread_id", "sent_at"),
        SCHEMA,
    )

    thread_id: Mapped[uuid.UUID]
    user_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("identity.users.id", ondelete="SET NULL")
    )
    channel: Mapped[Channel] = mapped_column(str_enum(Channel, "channel"))
    direction: Mapped[Direction] = mapped_column(str_enum(Direction, "direction"))
    author_kind: Mapped[AuthorKind] = mapped_column(str_enum(AuthorKind, "author_kind"))
    body = SealedField("free_text")
    body_sealed: Mapped[bytes] = sealed_column("body", "free_text", nullable=False)
    sent_at: Mapped[datetime]


class Review(SubjectLinked, TenantOwned, Base):
    """A customer review from a platform or collected after a booking."""

    __tablename__ = "reviews"
    __subject_parents__ = (("customer_id", "crm.customers"), ("booking_id", "commerce.bookings"))
    __table_args__ = (
        *subject_ref("reviews"),
        tenant_fk("location_id", "identity.locations"),
        tenant_fk("customer_id", "crm.customers"),
        tenant_fk("booking_id", "commerce.bookings"),
        sa.CheckConstraint("rating BETWEEN 1 AND 5", name="rating_range"),
        sa.CheckConstraint(
            "sentiment IS NULL OR sentiment BETWEEN -1 AND 1", name="sentiment_range"
        ),
        sa.Index(
            "uq_reviews_tenant_platform_external",
            "tenant_id",
            "platform",
            "external_id",
            unique=True,
            postgresql_where=sa.text("external_id IS NOT NULL"),
        ),
        sa.Index(
            "ix_reviews_tenant_location_published", "tenant_id", "location_id", "published_at"
        ),
        SCHEMA,
    )

    location_id: Mapped[uuid.UUID]
    customer_id: Mapped[uuid.UUID | None]
    booking_id: Mapped[uuid.UUID | None]
    platform: Mapped[ReviewPlatform] = mapped_column(str_enum(ReviewPlatform, "review_platform"))
    external_id: Mapped[str | None] = mapped_column(sa.String(255))
    rating: Mapped[int] = mapped_column(sa.SmallInteger)
    sentiment: Mapped[float | None] = mapped_column(sa.Float)
    author_name = SealedField("name", 200)
    author_name_sealed: Mapped[bytes | None] = sealed_column("author_name", "name")
    body = SealedField("free_text")
    body_sealed: Mapped[bytes | None] = sealed_column("body", "free_text")
    response_body: Mapped[str | None] = mapped_column(sa.Text)
    responded_at: Mapped[datetime | None]
    published_at: Mapped[datetime]
    escalated: Mapped[bool] = mapped_column(server_default=sa.false())


class Campaign(TenantOwned, Base):
    """A marketing campaign (e-mail or SMS) for a purpose that needs consent."""

    __tablename__ = "campaigns"
    __table_args__ = (
        tenant_root_fk(),
        tenant_fk("location_id", "identity.locations"),
        sa.CheckConstraint("channel IN ('email', 'sms')", name="campaign_channel"),
        sa.Index("ix_campaigns_tenant_status_scheduled", "tenant_id", "status", "scheduled_at"),
        SCHEMA,
    )

    location_id: Mapped[uuid.UUID | None]
    name: Mapped[str] = mapped_column(sa.String(200))
    channel: Mapped[str] = mapped_column(sa.String(10))
    purpose: Mapped[str] = mapped_column(sa.String(60), server_default="marketing_email")
    status: Mapped[CampaignStatus] = mapped_column(
        str_enum(CampaignStatus, "campaign_status"), server_default=CampaignStatus.DRAFT.value
    )
    subject_variant: Mapped[str | None] = mapped_column(sa.String(50))
    copy_variant: Mapped[str | None] = mapped_column(sa.String(50))
    scheduled_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]


class EmailEvent(SubjectLinked, TenantOwned, Base):
    """A delivery event for an e-mail: sent, delivered, open, click, bounce, complaint."""

    __tablename__ = "email_events"
    __subject_from__ = ("recipient",)
    __subject_parents__ = (("customer_id", "crm.customers"),)
    __table_args__ = (
        *subject_ref("email_events"),
        tenant_root_fk(),
        tenant_fk("campaign_id", "engage.campaigns"),
        tenant_fk("customer_id", "crm.customers"),
        sa.Index("ix_email_events_tenant_campaign_type", "tenant_id", "campaign_id", "event_type"),
        sa.Index("ix_email_events_tenant_occurred", "tenant_id", "occurred_at"),
        SCHEMA,
    )

    campaign_id: Mapped[uuid.UUID | None]
    customer_id: Mapped[uuid.UUID | None]
    event_type: Mapped[EmailEventType] = mapped_column(str_enum(EmailEventType, "email_event_type"))
    recipient = SealedField("email", 320)
    recipient_sealed: Mapped[bytes] = sealed_column("recipient", "email", nullable=False)
    provider_message_id: Mapped[str | None] = mapped_column(sa.String(255))
    occurred_at: Mapped[datetime]


class ChatMessage(SubjectLinked, TenantOwned, Base):
    """One chat message (web chat, SMS, social, voice transcript) in a thread.

    Partitioned by month of `sent_at` (the partition key is part of the primary key); the
    partitions are created ahead and dropped whole once their month is past the 90 days
    (`tenantry.conversations.upkeep`). A DEFAULT partition takes what no month partition does.
    """

    __tablename__ = "chat_messages"
    __subject_parents__ = (("thread_id", "engage.threads"),)
    __table_args__ = (
        *subject_ref("chat_messages"),
        tenant_fk("thread_id", "engage.threads", ondelete="CASCADE"),
        sa.CheckConstraint("channel <> 'email'", name="chat_channel"),
        sa.Index("ix_chat_messages_tenant_thread_sent", "tenant_id", "thread_id", "sent_at"),
        {**SCHEMA, "postgresql_partition_by": "RANGE (sent_at)"},
    )

    thread_id: Mapped[uuid.UUID]
    user_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("identity.users.id", ondelete="SET NULL")
    )
    channel: Mapped[Channel] = mapped_column(str_enum(Channel, "channel"))
    direction: Mapped[Direction] = mapped_column(str_enum(Direction, "direction"))
    author_kind: Mapped[AuthorKind] = mapped_column(str_enum(AuthorKind, "author_kind"))
    body = SealedField("free_text")
    body_sealed: Mapped[bytes] = sealed_column("body", "free_text", nullable=False)
    sent_at: Mapped[datetime] = mapped_column(primary_key=True)


class Escalation(SubjectLinked, TenantOwned, Base):
    """A thread or a review handed to a person of the tenant: assignee, reason, status."""

    __tablename__ = "escalations"
    __subject_parents__ = (("thread_id", "engage.threads"), ("review_id", "engage.reviews"))
    __table_args__ = (
        *subject_ref("escalations"),
        tenant_root_fk(),
        tenant_fk("location_id", "identity.locations"),
        tenant_fk("thread_id", "engage.threads", ondelete="CASCADE"),
        tenant_fk("review_id", "engage.reviews", ondelete="CASCADE"),
        sa.CheckConstraint("(thread_id IS NULL) <> (review_id IS NULL)", name="thread_or_review"),
        sa.Index("ix_escalations_tenant_status_assignee", "tenant_id", "status", "assignee_id"),
        sa.Index("ix_escalations_tenant_thread", "tenant_id", "thread_id"),
        # One escalation that is not resolved per thread and per review, even under races.
        sa.Index(
            "uq_escalations_tenant_thread_unresolved",
            "tenant_id",
            "thread_id",
            unique=True,
            postgresql_where=sa.text("status <> 'resolved' AND thread_id IS NOT NULL"),
        ),
        sa.Index(
            "uq_escalations_tenant_review_unresolved",
            "tenant_id",
            "review_id",
            unique=True,
            postgresql_where=sa.text("status <> 'resolved' AND review_id IS NOT NULL"),
        ),
        SCHEMA,
    )

    location_id: Mapped[uuid.UUID | None]
    thread_id: Mapped[uuid.UUID | None]
    review_id: Mapped[uuid.UUID | None]
    assignee_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("identity.users.id", ondelete="SET NULL")
    )
    reason = SealedField("free_text", 500)
    reason_sealed: Mapped[bytes | None] = sealed_column("reason", "free_text")
    status: Mapped[EscalationStatus] = mapped_column(
        str_enum(EscalationStatus, "escalation_status"),
        server_default=EscalationStatus.OPEN.value,
    )
    escalated_by: Mapped[str] = mapped_column(sa.String(120))
    acknowledged_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]


class MessagePurge(TenantOwned, Base):
    """A month of chat messages dropped after the 90 days: how many rows, no content."""

    __tablename__ = "message_purges"
    __table_args__ = (
        tenant_root_fk(),
        sa.Index("ix_message_purges_tenant_month", "tenant_id", "month"),
        SCHEMA,
    )

    month: Mapped[date] = mapped_column(sa.Date)
    partition_name: Mapped[str] = mapped_column(sa.String(63))
    rows_dropped: Mapped[int] = mapped_column(sa.Integer)
    rows_kept: Mapped[int] = mapped_column(sa.Integer, server_default="0")
    purged_at: Mapped[datetime]
