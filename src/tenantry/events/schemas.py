"""The event payload of seed 001 and the property schema of every accepted event type.

Validation only: no I/O, no keys. A payload that fails here is rejected with a one-line reason
that names the field, never its value (a rejected value may be personal data). Properties may
carry extra keys beyond the declared ones, but no string anywhere in them may look like an
e-mail address or a phone number: personal data has no place in an analytics event. The one
exception is `email` on e-mail events, which ingestion replaces by a keyed HMAC before storing.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from tenantry.models.enums import Persona

__all__ = [
    "EVENT_TYPES",
    "EXTERNAL_ID_KEYS",
    "JUNK_IDS",
    "EventPayload",
    "PayloadError",
    "is_junk_id",
    "parse_event",
]

# External ids the payload may carry (seed 001 section 2), with the identity-link source.
EXTERNAL_ID_KEYS: dict[str, str] = {
    "gbp_place_id": "gbp",
    "ga4_client_id": "ga4",
    "ga4_user_id": "ga4",
    "fb_page_id": "facebook",
    "ig_business_id": "instagram",
}

# Placeholder values that SDKs send when they have no id; linking on them would merge strangers.
JUNK_IDS = frozenset(
    {
        "",
        "0",
        "-1",
        "-",
        "null",
        "nil",
        "none",
        "undefined",
        "nan",
        "anonymous",
        "anon",
        "unknown",
        "unset",
        "n/a",
        "na",
        "test",
        "guest",
        "(not set)",
        "not set",
        "[object object]",
        "00000000-0000-0000-0000-000000000000",
    }
)
_REPEATED = re.compile(r"^(.)\1*$")  # "0000", "xxxx", "...."


def is_junk_id(value: str) -> bool:
    """Whether an external id is a placeholder rather than an id."""
    v = value.strip().lower()
    return v in JUNK_IDS or len(v) < 2 or bool(_REPEATED.match(v))


_EMAIL = re.compile(r"[^\s@]+@[^\s@]+\.[a-z]{2,}", re.IGNORECASE)
# International numbers anywhere ("+49 30 1234567", "0049..."), national ones as a whole value
# with a separator ("030 1234567", "0171-1234567"); dates and plain numeric ids do not match.
_PHONE_INTL = re.compile(r"(?<![\w.])(?:\+|00)[1-9][\d ()/.-]{6,}\d(?![\w])")
_PHONE_NATIONAL = re.compile(r"^\(?0[1-9]\d{1,4}\)?[ /-]\d[\d -]{4,}\d$")


class PayloadError(ValueError):
    """The event is invalid; the message is safe to return (it carries no values)."""


class _Props(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)


class Tone(StrEnum):
    ENCOURAGING = "encouraging"
    FACTS = "facts"
    BRIEF = "brief"


class Address(StrEnum):
    SIE = "sie"
    DU = "du"
    NEUTRAL = "neutral"


class CommPrefs(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    tone: Tone | None = None
    address: Address | None = None
    help_level: Literal["low", "medium", "high"] | None = None


class OnboardingStep(_Props):
    """`step_started`, `step_completed`, `step_skipped`, `step_abandoned`.

    Feeds fact_onboarding_steps.
    """

    step_id: str = Field(min_length=1, max_length=50, pattern=r"^[A-Za-z0-9_.:-]+$")
    persona: Persona | None = None
    comm_prefs: CommPrefs | None = None
    duration_seconds: int | None = Field(default=None, ge=0, le=86_400 * 30)


class OnboardingComplete(_Props):
    """`onb_complete`: the whole onboarding finished."""

    persona: Persona | None = None
    duration_seconds: int | None = Field(default=None, ge=0)


_SCORE = Field(default=None, ge=0, le=100)


class VisibilityCheck(_Props):
    """`visibility_check_requested`, `visibility_check_completed` (fact_visibility_check)."""

    check_id: uuid.UUID
    overall_score: int | None = _SCORE
    gbp_score: int | None = _SCORE
    social_score: int | None = _SCORE
    web_score: int | None = _SCORE
    competitor_count: int | None = Field(default=None, ge=0, le=10_000)
    processing_time_seconds: int | None = Field(default=None, ge=0, le=86_400)


_VARIANT = Field(default=None, max_length=50)


class EmailEvent(_Props):
    """`email_delivered`, `email_open`, `email_click`, `email_bounce`, `email_complaint`,
    `email_unsubscribe` (fact_email_events). `email` is pseudonymised on ingestion."""

    email: str | None = Field(default=None, max_length=320)
    campaign_id: str | None = Field(default=None, max_length=100)
    copy_variant: str | None = _VARIANT
    subject_variant: str | None = _VARIANT
    bounce_type: Literal["permanent", "transient", "undetermined"] | None = None
    complaint_reason: str | None = Field(default=None, max_length=50)


class LoginOAuth(_Props):
    """`login_oauth` (fact_login_oauth)."""

    provider: Literal["google", "facebook", "instagram", "apple", "microsoft"]
    success: bool
    error_code: str | None = Field(default=None, max_length=50)


class Login(_Props):
    """`login`: a password or magic-link login."""

    method: Literal["password", "magic_link", "sso"] = "password"
    success: bool = True


EVENT_TYPES: dict[str, type[_Props]] = {
    "step_started": OnboardingStep,
    "step_completed": OnboardingStep,
    "step_skipped": OnboardingStep,
    "step_abandoned": OnboardingStep,
    "onb_complete": OnboardingComplete,
    "visibility_check_requested": VisibilityCheck,
    "visibility_check_completed": VisibilityCheck,
    "email_delivered": EmailEvent,
    "email_open": EmailEvent,
    "email_click": EmailEvent,
    "email_bounce": EmailEvent,
    "email_complaint": EmailEvent,
    "email_unsubscribe": EmailEvent,
    "login_oauth": LoginOAuth,
    "login": Login,
}
_PSEUDONYMISED = {"email"}  # keys ingestion replaces by a keyed HMAC


class EventPayload(BaseModel):
    """The standard event payload (seed 001 section 2)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    event_id: uuid.UUID
    user_id: uuid.UUID | None = None
    account_id: uuid.UUID | None = None
    location_id: uuid.UUID | None = None
    external_ids: dict[str, str | int] = Field(default_factory=dict)
    timestamp: datetime
    event_type: str = Field(min_length=1, max_length=50)
    properties: dict[str, Any] = Field(default_factory=dict)

    @field_validator("event_id")
    @classmethod
    def _uuid7(cls, value: uuid.UUID) -> uuid.UUID:
        if value.version != 7:
            raise ValueError("must be a UUIDv7")
        return value

    @field_validator("timestamp")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("must carry a timezone (e.g. Z)")
        return value

    @field_validator("external_ids")
    @classmethod
    def _known_ids(cls, value: dict[str, str | int]) -> dict[str, str | int]:
        unknown = sorted(set(value) - set(EXTERNAL_ID_KEYS))
        if unknown:
            raise ValueError(f"unknown key(s) {', '.join(unknown)[:100]}")
        for key, v in value.items():
            if len(str(v)) > 255:
                raise ValueError(f"{key} is longer than 255 characters")
        return value


def _personal(value: Any, path: str) -> str | None:
    """The path of the first string that looks like an e-mail address or a phone number."""
    if isinstance(value, str):
        if _EMAIL.search(value):
            return f"{path} looks like an e-mail address"
        if _PHONE_INTL.search(value) or _PHONE_NATIONAL.match(value.strip()):
            return f"{path} looks like a phone number"
    elif isinstance(value, Mapping):
        for k, v in value.items():
            found = _personal(str(k), f"{path} key") or _personal(v, f"{path}.{k}")
            if found:
                return found
    elif isinstance(value, list):
        for i, v in enumerate(value):
            found = _personal(v, f"{path}[{i}]")
            if found:
                return found
    return None


def _reason(exc: ValidationError) -> str:
    err = exc.errors(include_url=False, include_input=False)[0]
    where = ".".join(str(p) for p in err["loc"]) or "payload"
    return f"{where}: {err['msg']}"[:200]


def parse_event(raw: Any) -> tuple[EventPayload, dict[str, Any]]:
    """The validated payload and its validated properties; `PayloadError` with a reason."""
    if not isinstance(raw, Mapping):
        raise PayloadError("an event must be a JSON object")
    try:
        event = EventPayload.model_validate(raw)
    except ValidationError as exc:
        raise PayloadError(_reason(exc)) from None
    schema = EVENT_TYPES.get(event.event_type)
    if schema is None:
        raise PayloadError("event_type: unknown event type")
    try:
        props = schema.model_validate(event.properties).model_dump(mode="json", exclude_none=True)
    except ValidationError as exc:
        raise PayloadError("properties." + _reason(exc)) from None
    checked = {k: v for k, v in props.items() if k not in _PSEUDONYMISED}
    found = _personal(checked, "properties")
    if found:
        raise PayloadError(f"{found}; personal data must not be sent in events")
    return event, props
