"""The canonical data model: SQLAlchemy 2 typed mappings, one module per PostgreSQL schema.

Importing this package registers every table on `Base.metadata` (migrations and the catalog
rely on that). Models do no I/O.
"""

from tenantry.models.api import ApiKey, ApiRole, IdempotencyRecord
from tenantry.models.audit import (
    AuditEntry,
    BulkBatch,
    BulkRow,
    ChainHead,
    Checkpoint,
    RedactedColumn,
)
from tenantry.models.base import SCHEMAS, Base
from tenantry.models.billing import Coupon, InvoiceCounter, InvoiceLine
from tenantry.models.channel import Connection
from tenantry.models.commerce import (
    Booking,
    BookingItem,
    Invoice,
    MatchDecision,
    PayerAlias,
    Payment,
    PaymentNotification,
    Service,
)
from tenantry.models.crm import Customer, Lead, LeadInteraction, LeadScoreHistory, Vehicle
from tenantry.models.engage import (
    Campaign,
    ChatMessage,
    EmailEvent,
    Escalation,
    Message,
    MessagePurge,
    Review,
    Thread,
)
from tenantry.models.events import InboxEvent, OutboxEntry, ProjectionPosition, RelayPosition
from tenantry.models.experiments import Decision, Experiment, ExperimentArm, Posterior
from tenantry.models.identity import (
    IdentityLink,
    Location,
    Membership,
    MembershipLocation,
    Tenant,
    User,
)
from tenantry.models.inbound import MailboxCursor, WebhookEndpoint
from tenantry.models.insight import (
    AnalysisRun,
    AnalyticsSnapshot,
    Benchmark,
    Evidence,
    Prompt,
    Recommendation,
    RecommendationEvidence,
    Retrieval,
    Statement,
    StatementEvidence,
    VisibilityCheck,
)
from tenantry.models.migrate import IdMapEntry, Lineage, MigrationRun, Progress, Verification
from tenantry.models.privacy import (
    ConsentEntry,
    DoiToken,
    DsarRequest,
    ErasureReceipt,
    LegalHold,
    PlatformKey,
    RetentionDefault,
    RetentionPolicy,
    Subject,
    SubjectKey,
    TenantKey,
)
from tenantry.models.scheduling import (
    CapacityClaim,
    DailyCapacity,
    DateException,
    OpeningInterval,
    Reservation,
    ReservationSlot,
    Resource,
    ServiceRequirement,
)

__all__ = [
    "SCHEMAS",
    "AnalysisRun",
    "AnalyticsSnapshot",
    "ApiKey",
    "ApiRole",
    "AuditEntry",
    "Base",
    "Benchmark",
    "Booking",
    "BookingItem",
    "BulkBatch",
    "BulkRow",
    "Campaign",
    "CapacityClaim",
    "ChainHead",
    "ChatMessage",
    "Checkpoint",
    "Connection",
    "ConsentEntry",
    "Coupon",
    "Customer",
    "DailyCapacity",
    "DateException",
    "Decision",
    "DoiToken",
    "DsarRequest",
    "EmailEvent",
    "ErasureReceipt",
    "Escalation",
    "Evidence",
    "Experiment",
    "ExperimentArm",
    "IdMapEntry",
    "IdempotencyRecord",
    "IdentityLink",
    "InboxEvent",
    "Invoice",
    "InvoiceCounter",
    "InvoiceLine",
    "Lead",
    "LeadInteraction",
    "LeadScoreHistory",
    "LegalHold",
    "Lineage",
    "Location",
    "MailboxCursor",
    "MatchDecision",
    "Membership",
    "MembershipLocation",
    "Message",
    "MessagePurge",
    "MigrationRun",
    "OpeningInterval",
    "OutboxEntry",
    "PayerAlias",
    "Payment",
    "PaymentNotification",
    "PlatformKey",
    "Posterior",
    "Progress",
    "ProjectionPosition",
    "Prompt",
    "Recommendation",
    "RecommendationEvidence",
    "RedactedColumn",
    "RelayPosition",
    "Reservation",
    "ReservationSlot",
    "Resource",
    "RetentionDefault",
    "RetentionPolicy",
    "Retrieval",
    "Review",
    "Service",
    "ServiceRequirement",
    "Statement",
    "StatementEvidence",
    "Subject",
    "SubjectKey",
    "Tenant",
    "TenantKey",
    "Thread",
    "User",
    "Vehicle",
    "Verification",
    "VisibilityCheck",
    "WebhookEndpoint",
    "tenant_tables",
]


def tenant_tables() -> list[str]:
    """Qualified names of every table with a `tenant_id` column."""
    return sorted(t.fullname for t in Base.metadata.tables.values() if "tenant_id" in t.c)
