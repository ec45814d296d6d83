"""Value sets of the canonical model, shared by models, domain code, the generator and the API.

Values are lower-case snake_case strings as stored in the database.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "AuthorKind",
    "BookingKind",
    "BookingStatus",
    "CampaignStatus",
    "Channel",
    "ConnectionProvider",
    "ConsentDecision",
    "ConsentPurpose",
    "Direction",
    "EmailEventType",
    "EscalationStatus",
    "EvidenceSource",
    "ExternalSource",
    "FuelType",
    "HoldScope",
    "InteractionKind",
    "InvoiceStatus",
    "KeyPurpose",
    "KeyStatus",
    "LeadModelKind",
    "LeadSource",
    "LeadStatus",
    "LegalBasis",
    "LegalForm",
    "MatchStatus",
    "MembershipRole",
    "OnboardingStatus",
    "PaymentKind",
    "PaymentMethod",
    "PaymentStatus",
    "Persona",
    "Plan",
    "RecommendationStatus",
    "RetentionAction",
    "RetentionStart",
    "ReviewPlatform",
    "ServiceKind",
    "SnapshotSource",
    "StatementKind",
    "StatementStatus",
    "SubjectKind",
    "SyncStatus",
    "TenantStatus",
    "ThreadStatus",
    "UserStatus",
    "VerificationStatus",
    "Vertical",
    "VisibilityCheckStatus",
]


class LegalForm(StrEnum):
    GMBH = "gmbh"
    UG = "ug"
    AG = "ag"
    KG = "kg"
    GMBH_CO_KG = "gmbh_co_kg"
    OHG = "ohg"
    GBR = "gbr"
    EK = "ek"
    SOLE_PROPRIETOR = "sole_proprietor"
    LLC = "llc"
    OTHER = "other"


class Plan(StrEnum):
    FREE = "free"
    STARTER = "starter"
    PROFESSIONAL = "professional"
    ENTERPRISE = "enterprise"


class TenantStatus(StrEnum):
    TRIAL = "trial"
    ACTIVE = "active"
    SUSPENDED = "suspended"
    CLOSED = "closed"


class Vertical(StrEnum):
    RESTAURANT = "restaurant"
    WORKSHOP = "workshop"
    CATERER = "caterer"
    OTHER = "other"


class OnboardingStatus(StrEnum):
    NOT_STARTED = "not_started"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"


class VerificationStatus(StrEnum):
    UNVERIFIED = "unverified"
    PENDING = "pending"
    VERIFIED = "verified"
    REJECTED = "rejected"


class UserStatus(StrEnum):
    INVITED = "invited"
    ACTIVE = "active"
    DISABLED = "disabled"


class MembershipRole(StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    MANAGER = "manager"
    STAFF = "staff"
    ANALYST = "analyst"
    DPO = "dpo"


class ExternalSource(StrEnum):
    GBP = "gbp"
    GA4 = "ga4"
    FACEBOOK = "facebook"
    INSTAGRAM = "instagram"


class Persona(StrEnum):
    """Owner personas of seed 001."""

    SOLO_SARAH = "solo-sarah"
    BEWAHRER_BEN = "bewahrer-ben"
    WACHSTUMS_WALTER = "wachstums-walter"
    KETTEN_KATRIN = "ketten-katrin"


class LeadSource(StrEnum):
    """Lead sources of seed 004 plus the visibility check of seeds 000/001."""

    WEB_QUOTE = "web_quote"
    CHAT = "chat"
    INSTAGRAM = "instagram"
    FACEBOOK = "facebook"
    GOOGLE = "google"
    YELP = "yelp"
    SMS = "sms"
    PHONE = "phone"
    REFERRAL = "referral"
    EVENT = "event"
    PAYMENT = "payment"
    FINANCIAL = "financial"
    STRIPE = "stripe"
    PLAID = "plaid"
    VISIBILITY_CHECK = "visibility_check"
    WALK_IN = "walk_in"


class LeadStatus(StrEnum):
    NEW = "new"
    CONTACTED = "contacted"
    QUALIFIED = "qualified"
    CONVERTED = "converted"
    LOST = "lost"


class Channel(StrEnum):
    WEB = "web"
    SMS = "sms"
    EMAIL = "email"
    SOCIAL = "social"
    VOICE = "voice"


class Direction(StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class FuelType(StrEnum):
    PETROL = "petrol"
    DIESEL = "diesel"
    ELECTRIC = "electric"
    HYBRID = "hybrid"
    LPG = "lpg"
    OTHER = "other"


class ServiceKind(StrEnum):
    SERVICE_PACKAGE = "service_package"
    MENU_ITEM = "menu_item"
    WORKSHOP_SERVICE = "workshop_service"
    CATERING_PACKAGE = "catering_package"
    ADDON = "addon"


class BookingKind(StrEnum):
    APPOINTMENT = "appointment"
    RESERVATION = "reservation"
    CATERING_EVENT = "catering_event"
    PARTNER_BOOKING = "partner_booking"


class BookingStatus(StrEnum):
    INQUIRY = "inquiry"
    CONFIRMED = "confirmed"
    DEPOSIT_PAID = "deposit_paid"
    PAID = "paid"
    FULFILLED = "fulfilled"
    REVIEWED = "reviewed"
    CANCELLED = "cancelled"
    NO_SHOW = "no_show"


class PaymentKind(StrEnum):
    DEPOSIT = "deposit"
    BALANCE = "balance"
    FULL = "full"
    TIP = "tip"
    REFUND = "refund"


class PaymentMethod(StrEnum):
    CARD = "card"
    SEPA = "sepa"
    CASH = "cash"
    PAYPAL = "paypal"
    STRIPE = "stripe"
    ZELLE = "zelle"
    VENMO = "venmo"
    BANK_TRANSFER = "bank_transfer"
    COUPON = "coupon"  # a review coupon redeemed against the booking (tenantry.payments.coupons)


class PaymentStatus(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


class InvoiceStatus(StrEnum):
    DRAFT = "draft"
    ISSUED = "issued"
    PAID = "paid"
    VOID = "void"


class MatchStatus(StrEnum):
    UNMATCHED = "unmatched"
    MATCHED = "matched"
    NEEDS_REVIEW = "needs_review"
    IGNORED = "ignored"
    REJECTED = "rejected"


class NotificationSource(StrEnum):
    EMAIL = "email"
    WEBHOOK = "webhook"
    BANK_STATEMENT = "bank_statement"


class NotificationTrust(StrEnum):
    VERIFIED = "verified"
    UNSIGNED = "unsigned"
    FORGED = "forged"
    UNKNOWN_KEY = "unknown_key"


class MatchedPart(StrEnum):
    """Which part of a booking's price a matched payment settles."""

    DEPOSIT = "deposit"
    BALANCE = "balance"
    FULL = "full"


class MatchAction(StrEnum):
    AUTO_MATCHED = "auto_matched"
    QUEUED = "queued"
    MATCHED = "matched"
    REASSIGNED = "reassigned"
    REJECTED = "rejected"


class ThreadStatus(StrEnum):
    OPEN = "open"
    PENDING = "pending"
    CLOSED = "closed"


class AuthorKind(StrEnum):
    CUSTOMER = "customer"
    STAFF = "staff"
    AI = "ai"
    SYSTEM = "system"


class ReviewPlatform(StrEnum):
    GOOGLE = "google"
    YELP = "yelp"
    FACEBOOK = "facebook"
    TRIPADVISOR = "tripadvisor"
    INTERNAL = "internal"


class CampaignStatus(StrEnum):
    DRAFT = "draft"
    SCHEDULED = "scheduled"
    RUNNING = "running"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class EmailEventType(StrEnum):
    SENT = "sent"
    DELIVERED = "delivered"
    OPEN = "open"
    CLICK = "click"
    BOUNCE = "bounce"
    COMPLAINT = "complaint"
    UNSUBSCRIBE = "unsubscribe"


class ConnectionProvider(StrEnum):
    GOOGLE_BUSINESS_PROFILE = "google_business_profile"
    GOOGLE_ANALYTICS = "google_analytics"
    FACEBOOK = "facebook"
    INSTAGRAM = "instagram"
    YELP = "yelp"
    TRIPADVISOR = "tripadvisor"
    WEBSITE = "website"


class SyncStatus(StrEnum):
    PENDING = "pending"
    OK = "ok"
    ERROR = "error"
    REVOKED = "revoked"


class VisibilityCheckStatus(StrEnum):
    AWAITING_CONFIRMATION = "awaiting_confirmation"  # the visitor has not confirmed the e-mail
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"


class EvidenceSource(StrEnum):
    GBP = "gbp"
    GA4 = "ga4"
    FACEBOOK = "facebook"
    INSTAGRAM = "instagram"
    WEBSITE = "website"
    REVIEW_PLATFORM = "review_platform"
    PLACES = "places"  # Google Places API: public listing data and nearby competitors
    SEARCH = "search"
    AI_MODEL = "ai_model"
    MANUAL = "manual"


class StatementKind(StrEnum):
    """What an analyser's statement is: a SWOT item, a persona, a recommendation, a summary."""

    STRENGTH = "strength"
    WEAKNESS = "weakness"
    OPPORTUNITY = "opportunity"
    THREAT = "threat"
    PERSONA = "persona"
    RECOMMENDATION = "recommendation"
    SUMMARY = "summary"


class StatementStatus(StrEnum):
    PUBLISHED = "published"
    STALE = "stale"  # evidence it rests on was superseded by a recheck


class RecommendationStatus(StrEnum):
    OPEN = "open"
    ACCEPTED = "accepted"
    DISMISSED = "dismissed"
    DONE = "done"


class SnapshotSource(StrEnum):
    GBP = "gbp"
    GA4 = "ga4"
    FACEBOOK = "facebook"
    INSTAGRAM = "instagram"
    WEBSITE = "website"
    PLACES = "places"
    INTERNAL = "internal"


class ConsentPurpose(StrEnum):
    """Purposes that need the subject's consent before processing (seed 001)."""

    MARKETING_EMAIL = "marketing_email"
    MARKETING_SMS = "marketing_sms"
    ANALYTICS = "analytics"
    VC_REPORT = "vc_report"
    PERSONALISATION = "personalisation"


class LegalBasis(StrEnum):
    """GDPR Art. 6(1) (a) to (f)."""

    CONSENT = "consent"
    CONTRACT = "contract"
    LEGAL_OBLIGATION = "legal_obligation"
    VITAL_INTERESTS = "vital_interests"
    PUBLIC_TASK = "public_task"
    LEGITIMATE_INTERESTS = "legitimate_interests"


class ConsentDecision(StrEnum):
    GRANTED = "granted"
    DENIED = "denied"
    WITHDRAWN = "withdrawn"


class SubjectKind(StrEnum):
    PERSON = "person"
    ORGANISATION = "organisation"


class KeyPurpose(StrEnum):
    WRAPPING = "wrapping"
    INDEXING = "indexing"


class KeyStatus(StrEnum):
    ACTIVE = "active"
    RETIRED = "retired"


class RetentionStart(StrEnum):
    RECORD_DATE = "record_date"
    END_OF_CALENDAR_YEAR = "end_of_calendar_year"


class RetentionAction(StrEnum):
    DELETE = "delete"
    ANONYMISE = "anonymise"


class HoldScope(StrEnum):
    DATASET = "dataset"
    ROW = "row"
    CUSTOMER = "customer"


class DsarKind(StrEnum):
    """Data-subject rights, GDPR Art. 15 to 21."""

    ACCESS = "access"
    ERASURE = "erasure"
    RECTIFICATION = "rectification"
    RESTRICTION = "restriction"
    PORTABILITY = "portability"
    OBJECTION = "objection"


class DsarStatus(StrEnum):
    RECEIVED = "received"
    VERIFIED = "verified"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    REJECTED = "rejected"


class InteractionKind(StrEnum):
    """What a lead interaction was (seed 002: call, e-mail, visit, note)."""

    CALL = "call"
    EMAIL = "email"
    VISIT = "visit"
    NOTE = "note"
    MESSAGE = "message"
    MEETING = "meeting"


class EscalationStatus(StrEnum):
    """An escalation to a person: open -> acknowledged -> resolved (seed 004)."""

    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class ResourceKind(StrEnum):
    """What a bookable resource of a location is (schema `scheduling`)."""

    STAFF = "staff"
    BAY = "bay"
    LIFT = "lift"
    CHEF = "chef"
    EQUIPMENT = "equipment"
    ROOM = "room"
    TABLE = "table"
    OTHER = "other"


class WebhookProvider(StrEnum):
    """A payment provider that signs the webhooks it sends a tenant (schema `commerce`)."""

    STRIPE = "stripe"


class InvoiceKind(StrEnum):
    """An invoice or a credit note correcting one; each kind numbers its own series."""

    INVOICE = "invoice"
    CREDIT_NOTE = "credit_note"


class CouponStatus(StrEnum):
    """A review coupon: issued, then redeemed once (tenantry.payments.coupons)."""

    ISSUED = "issued"
    REDEEMED = "redeemed"


class LeadModelKind(StrEnum):
    """How a lead scoring model scores: the points table or a learnt logistic regression."""

    RULES = "rules"
    LOGISTIC = "logistic"
