"""Schema `engage`: conversations across channels, reviews, campaigns and e-mail events."""

from __future__ import annotations

import uuid
from datetime import datetime

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
    ReviewPlatform,
    ThreadStatus,
)
from tenantry.models.sealed import SealedField, sealed_column

__all__ = ["Campaign", "EmailEvent", "Message", "Review", "Thread"]

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
    """One message in a thread."""

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
