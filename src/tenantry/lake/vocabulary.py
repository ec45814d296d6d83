"""The event vocabulary: every event type that can reach the lake, its properties and values.

Defined once, here, in the lowest layer both sides share: ingestion (`tenantry.events.schemas`
builds its validators from these names), the outbox triggers (checked against these names by a
test), the relay, the synthetic generator and the pipeline's SQL (`tenantry.pipeline.catalog`
renders the `{{ ... }}` placeholders of its SQL files from this module). A name that is not
here can be neither ingested nor read.

Two channels bring events: `ingest` types are sent by clients (`POST /v1/events`, `tenantry
events ingest`) and land in `lake/raw/events`; `outbox` types are written by PostgreSQL itself
when the consent journal, a tenant (the business account) or a location changes, in the same
transaction as the change, and land in `lake/raw/domain_events`. Clients cannot send `outbox`
types: consent and master data come only from the database. No I/O and no imports here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = [
    "ACCOUNT_EVENTS",
    "ADDRESS_FORMS",
    "BOUNCE_TYPES",
    "CONSENT_EVENTS",
    "EMAIL_EVENTS",
    "EMAIL_KEY",
    "EVENT_TYPES",
    "HELP_LEVELS",
    "INGESTED",
    "INGEST_SOURCES",
    "LOCATION_EVENTS",
    "LOGIN_EVENTS",
    "LOGIN_METHODS",
    "MAIN_CATEGORIES",
    "MARKETING_PURPOSE",
    "OAUTH_LOGIN_EVENTS",
    "ONBOARDING_EVENTS",
    "ONBOARDING_STEPS",
    "OUTBOX",
    "PERSONAS",
    "PRICE_RANGES",
    "PROVIDERS",
    "SOURCES",
    "TONES",
    "VERIFIED_EVENTS",
    "VISIBILITY_EVENTS",
    "EventType",
    "family",
]

Channel = Literal["ingest", "outbox"]


@dataclass(frozen=True)
class EventType:
    """One event type: who sends it, its family, what it feeds, its declared properties.

    `fact_type` is the value the fact table's `event_type` column gets (facts only).
    """

    name: str
    channel: Channel
    family: str
    feeds: tuple[str, ...]
    properties: tuple[str, ...]
    fact_type: str | None = None


_STEP = ("step_id", "persona", "comm_prefs", "duration_seconds")
_CHECK = (
    "check_id",
    "overall_score",
    "gbp_score",
    "social_score",
    "web_score",
    "competitor_count",
    "processing_time_seconds",
    "location_id",  # set by tenantry's own checks (the outbox); clients send it beside
)
# `email` is sent by the client and replaced by EMAIL_KEY (a keyed HMAC) before storage.
_EMAIL = (
    "email",
    "campaign_id",
    "copy_variant",
    "subject_variant",
    "bounce_type",
    "complaint_reason",
)
EMAIL_KEY = "email_key"
_OAUTH = ("provider", "success", "error_code")
_LOGIN = ("method", "success")
# Outbox payloads: the subject only as its pseudonym (`user_key`), never an address.
_CONSENT = ("user_key", "purpose", "decision", "expires_at")
_ACCOUNT = ("business_name", "main_category", "price_range", "is_active", "created_at")
_LOCATION = (
    "address",
    "city",
    "country",
    "latitude",
    "longitude",
    "price_range",
    "gbp_place_id",
    "is_active",
)

_STEPS_FEED = (
    "fact_onboarding_steps",
    "agg_user_daily",
    "dim_user",
    "segments",
    "ml_user_features",
)
_EMAIL_FEED = ("fact_email_events", "agg_user_daily", "dim_user", "ml_user_features")
_USER_FEED = ("dim_user", "segments")

EVENT_TYPES: tuple[EventType, ...] = (
    EventType("step_started", "ingest", "onboarding", _STEPS_FEED, _STEP, "started"),
    EventType("step_completed", "ingest", "onboarding", _STEPS_FEED, _STEP, "completed"),
    EventType("step_skipped", "ingest", "onboarding", _STEPS_FEED, _STEP, "skipped"),
    EventType("step_abandoned", "ingest", "onboarding", _STEPS_FEED, _STEP, "abandoned"),
    EventType(
        "onb_complete",
        "ingest",
        "onboarding",
        _STEPS_FEED,
        ("persona", "duration_seconds"),
        "onb_complete",
    ),
    # A request has no result yet: kept in the raw layer only.
    EventType("visibility_check_requested", "ingest", "visibility_request", (), _CHECK),
    EventType(
        "visibility_check_completed",
        "ingest",
        "visibility",
        ("fact_visibility_check", "agg_user_daily", "ml_user_features"),
        _CHECK,
        "completed",
    ),
    EventType("email_sent", "ingest", "email", _EMAIL_FEED, _EMAIL, "sent"),
    EventType("email_delivered", "ingest", "email", _EMAIL_FEED, _EMAIL, "delivered"),
    EventType("email_open", "ingest", "email", _EMAIL_FEED, _EMAIL, "open"),
    EventType("email_click", "ingest", "email", _EMAIL_FEED, _EMAIL, "click"),
    EventType("email_bounce", "ingest", "email", _EMAIL_FEED, _EMAIL, "bounce"),
    EventType("email_complaint", "ingest", "email", _EMAIL_FEED, _EMAIL, "complaint"),
    EventType("email_unsubscribe", "ingest", "email", _EMAIL_FEED, _EMAIL, "unsubscribe"),
    EventType(
        "login_oauth",
        "ingest",
        "login_oauth",
        ("fact_login_oauth", "agg_user_daily", "dim_user", "ml_user_features"),
        _OAUTH,
    ),
    EventType("login", "ingest", "login", ("dim_user",), _LOGIN),
    EventType("consent_granted", "outbox", "consent", _USER_FEED, _CONSENT),
    EventType("consent_withdrawn", "outbox", "consent", _USER_FEED, _CONSENT),
    EventType("email_verified", "outbox", "verified", _USER_FEED, _CONSENT),
    EventType("account_upserted", "outbox", "account", ("dim_account",), _ACCOUNT),
    EventType("location_upserted", "outbox", "location", ("dim_location",), _LOCATION),
)


def family(name: str) -> dict[str, EventType]:
    """The event types of one family, by name, in declaration order."""
    return {e.name: e for e in EVENT_TYPES if e.family == name}


def _fact_types(name: str) -> dict[str, str]:
    return {e.name: e.fact_type or e.name for e in EVENT_TYPES if e.family == name}


INGESTED = tuple(e.name for e in EVENT_TYPES if e.channel == "ingest")
OUTBOX = tuple(e.name for e in EVENT_TYPES if e.channel == "outbox")
# raw event_type -> the fact's event_type
ONBOARDING_EVENTS = _fact_types("onboarding")
EMAIL_EVENTS = _fact_types("email")
VISIBILITY_EVENTS = tuple(family("visibility"))
OAUTH_LOGIN_EVENTS = tuple(family("login_oauth"))
LOGIN_EVENTS = tuple(family("login"))
CONSENT_EVENTS = tuple(family("consent"))
VERIFIED_EVENTS = tuple(family("verified"))
ACCOUNT_EVENTS = tuple(family("account"))
LOCATION_EVENTS = tuple(family("location"))

# The consent purpose whose latest decision makes a user `marketing_opted_in`.
MARKETING_PURPOSE = "marketing_email"

PERSONAS = ("solo-sarah", "bewahrer-ben", "wachstums-walter", "ketten-katrin")
TONES = ("encouraging", "facts", "brief")
ADDRESS_FORMS = ("sie", "du", "neutral")
HELP_LEVELS = ("low", "medium", "high")
PROVIDERS = ("google", "facebook", "instagram", "apple", "microsoft")
LOGIN_METHODS = ("password", "magic_link", "sso")
BOUNCE_TYPES = ("permanent", "transient", "undetermined")
MAIN_CATEGORIES = ("restaurant", "workshop", "caterer", "other")  # a tenant's vertical
PRICE_RANGES = ("€", "€€", "€€€", "€€€€")  # a location's price_range 1..4
ONBOARDING_STEPS = (
    "business_basics",
    "location",
    "opening_hours",
    "categories",
    "gbp_connect",
    "social_connect",
    "visibility_check",
    "comm_prefs",
    "goals",
    "finish",
)

# Where raw data comes from: the raw events' `source` column (ingestion sets it) and the
# outbox. Names and descriptions are what `tenantry pipeline status` shows; the freshness SLAs
# per source are in `tenantry/pipeline/quality.toml`.
SOURCES = {
    "api": "events sent to POST /v1/events by the app",
    "bulk": "event files loaded with `tenantry events ingest`",
    "outbox": "database changes: consent, e-mail verification, accounts, locations",
}
# The `source` values ingestion writes: the API's default and the bulk loader's.
INGEST_SOURCES = ("api", "bulk")
