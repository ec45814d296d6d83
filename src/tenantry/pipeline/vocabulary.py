"""The event vocabulary the pipeline understands: event types, their families and value sets.

These names follow seed 001 (onboarding steps, visibility checks, email events, OAuth logins,
personas, communication preferences) plus the consent and business-entity events the pipeline
needs for segments and dimensions. Ingestion validates payloads; the pipeline only reads them.
"""

from __future__ import annotations

__all__ = [
    "ACCOUNT_EVENTS",
    "ADDRESS_FORMS",
    "CONSENT_EVENTS",
    "EMAIL_EVENTS",
    "LOCATION_EVENTS",
    "LOGIN_EVENTS",
    "ONBOARDING_EVENTS",
    "ONBOARDING_STEPS",
    "PERSONAS",
    "PROVIDERS",
    "SOURCES",
    "TONES",
    "VISIBILITY_EVENTS",
]

# raw event_type -> fact event_type
ONBOARDING_EVENTS = {
    "step_started": "started",
    "step_completed": "completed",
    "step_skipped": "skipped",
}
EMAIL_EVENTS = {
    "email_sent": "sent",
    "email_delivered": "delivered",
    "email_opened": "open",
    "email_clicked": "click",
    "email_bounced": "bounce",
    "email_complained": "complaint",
    "email_unsubscribed": "unsubscribe",
}
LOGIN_EVENTS = ("oauth_login",)
VISIBILITY_EVENTS = ("visibility_check_completed",)
CONSENT_EVENTS = ("consent_granted", "consent_withdrawn", "email_verified")
ACCOUNT_EVENTS = ("account_upserted",)
LOCATION_EVENTS = ("location_upserted",)

PERSONAS = ("solo-sarah", "bewahrer-ben", "wachstums-walter", "ketten-katrin")
TONES = ("encouraging", "facts", "brief")
ADDRESS_FORMS = ("sie", "du", "neutral")
PROVIDERS = ("google", "facebook")
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
# raw `source` values and the seed 001 feed each stands for (section 8 SLAs)
SOURCES = {
    "app": "product events relayed from the OLTP outbox (seed: Supabase export)",
    "consent": "consent journal changes (seed: DynamoDB streams)",
    "ses": "email delivery events (seed: SES/SNS)",
    "ga4": "web analytics events (seed: GA4 export)",
}
