"""The event payload of seed 001 and the property schema of every accepted event type.

Validation only: no I/O, no keys. A payload that fails here is rejected with a one-line reason
that names the field, never its value (a rejected value may be personal data). Properties may
carry extra keys beyond the declared ones, but no string anywhere in them may look like an
e-mail address or a phone number: personal data has no place in an analytics event. The one
exception is `email` on e-mail events, which ingestion replaces by a keyed HMAC before storing.
"""

from __future__ import annotations

import functools
import json
import re
import uuid
from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_core import to_json

from tenantry.errors import plain_message
from tenantry.events.property_checks import PropertyCheck
from tenantry.lake import vocabulary
from tenantry.models.enums import Persona

__all__ = [
    "EVENT_TYPES",
    "EXTERNAL_ID_KEYS",
    "JUNK_IDS",
    "Event",
    "EventPayload",
    "ParsedEvent",
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
_PHONE_INTL = re.compile(r"(?<![\w.-])(?:\+|00)[1-9][\d ()/.-]{6,}\d(?![\w])")
_ANY_UUID = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
)
_PHONE_NATIONAL = re.compile(r"^\(?0[1-9]\d{1,4}\)?[ /-]\d[\d -]{4,}\d$")


_UUID7 = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-7[0-9a-fA-F]{3}-[89abAB][0-9a-fA-F]{3}-[0-9a-fA-F]{12}$"
# One pass over the serialised properties finds candidates; `_personal` then names the field.
_SUSPECT_PHONE = re.compile(
    r"(?<![\w.-])(?:\+|00)[1-9][\d ()/.-]{6,}\d(?![\w])"
    r'|"\s*\(?0[1-9]\d{1,4}\)?[ /-]\d[\d -]{4,}\d\s*"'
)


_DIGIT_RUN = re.compile(r"\d[\d ()/-]{5,}\d")  # seven or more digits and separators


def _suspect(text: str) -> bool:
    """Cheap gate first: most properties hold no "@", no "+" and no long digit run."""
    if "@" not in text and "+" not in text and not _DIGIT_RUN.search(text):
        return False
    # The e-mail pattern is only tried where an "@" exists: it is costly on long JSON.
    if "-" in text:
        text = _ANY_UUID.sub("", text)
    return ("@" in text and bool(_EMAIL.search(text))) or bool(_SUSPECT_PHONE.search(text))


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
    location_id: uuid.UUID | None = None


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


# The schema of each family of the vocabulary; every type a client may send gets one.
_FAMILY_SCHEMAS: dict[str, type[_Props]] = {
    "onboarding": OnboardingStep,
    "visibility_request": VisibilityCheck,
    "visibility": VisibilityCheck,
    "email": EmailEvent,
    "login_oauth": LoginOAuth,
    "login": Login,
}


def _schema(event: vocabulary.EventType) -> type[_Props]:
    if event.family == "onboarding" and "step_id" not in event.properties:
        return OnboardingComplete
    return _FAMILY_SCHEMAS[event.family]


# Only the `ingest` channel: consent and master data come from the database (the outbox).
EVENT_TYPES: dict[str, type[_Props]] = {
    e.name: _schema(e) for e in vocabulary.EVENT_TYPES if e.channel == "ingest"
}
_PSEUDONYMISED = {
    "email"
}  # replaced by vocabulary.EMAIL_KEY  # keys ingestion replaces by a keyed HMAC
_KNOWN_IDS = frozenset(EXTERNAL_ID_KEYS)


class EventPayload(BaseModel):
    """The standard event payload (seed 001 section 2)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # Checked as text (in pydantic's core, fast); kept as the canonical lower-case string.
    event_id: str = Field(pattern=_UUID7)
    user_id: uuid.UUID | None = None
    account_id: uuid.UUID | None = None
    location_id: uuid.UUID | None = None
    external_ids: dict[str, str | int] = Field(default_factory=dict)
    timestamp: datetime
    event_type: str = Field(min_length=1, max_length=50)
    properties: dict[str, Any] = Field(default_factory=dict)

    @field_validator("event_id")
    @classmethod
    def _lower(cls, value: str) -> str:
        return value.lower()

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
            if "\x00" in str(v):
                raise ValueError(f"{key} must not contain the NUL character")
        return value


def _personal(value: Any, path: str) -> str | None:
    """The path of the first string that looks like an e-mail address or a phone number."""
    if isinstance(value, str):
        value = _ANY_UUID.sub("", value)
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
    if where == "event_id" and err["type"] == "string_pattern_mismatch":
        return "event_id: must be a UUIDv7"
    return f"{where}: {plain_message(err['msg'])}"[:200]


class Event(NamedTuple):
    """A validated event envelope (the payload without its properties).

    A named tuple rather than a frozen dataclass: built once per event on the ingestion hot
    path, where a frozen dataclass's `__init__` costs about four times as much.
    """

    event_id: str
    user_id: uuid.UUID | None
    account_id: uuid.UUID | None
    location_id: uuid.UUID | None
    external_ids: Mapping[str, str | int]
    timestamp: datetime
    event_type: str
    timestamp_text: str  # ISO 8601 as received (validated), or re-formatted


class ParsedEvent(NamedTuple):
    event: Event
    properties: str  # validated properties as JSON, without `email`
    email: str | None  # to be pseudonymised by the caller


_ENVELOPE = frozenset(EventPayload.model_fields)
_UUID7_RE = re.compile(_UUID7)


_NO_IDS: dict[str, str | int] = {}
# User and location ids repeat; parsing one costs ~2 us (least recently used first out).
_parse_uuid = functools.lru_cache(maxsize=100_000)(uuid.UUID)


def _opt_uuid(value: Any) -> uuid.UUID | None:
    if value is None:
        return None
    return _parse_uuid(value)


def _fast_envelope(raw: Mapping[str, Any]) -> Event | None:
    """The common well-formed case without pydantic; None sends the event to the full check."""
    try:
        if not _ENVELOPE.issuperset(raw):
            return None
        event_id, ts, event_type = raw["event_id"], raw["timestamp"], raw["event_type"]
        ids = raw.get("external_ids", _NO_IDS)  # null or [] are errors: pydantic names them
        if not (
            type(event_id) is str
            and _UUID7_RE.fullmatch(event_id)  # `$` alone would let a final newline in
            and type(ts) is str
            and type(event_type) is str
            and 0 < len(event_type) <= 50
            and type(ids) is dict
            and type(raw.get("properties", ids)) is dict
        ):
            return None
        if ids and not (
            _KNOWN_IDS.issuperset(ids)
            and all(type(v) is str and len(v) <= 255 and "\x00" not in v for v in ids.values())
        ):
            return None
        timestamp = datetime.fromisoformat(ts)
        if timestamp.tzinfo is None:
            return None
        return Event(
            event_id.lower(),
            _opt_uuid(raw.get("user_id")),
            _opt_uuid(raw.get("account_id")),
            _opt_uuid(raw.get("location_id")),
            ids,
            timestamp,
            event_type,
            ts,
        )
    except (KeyError, ValueError, TypeError, AttributeError):
        return None


def _envelope(raw: Mapping[str, Any]) -> Event:
    fast = _fast_envelope(raw)
    if fast is not None:
        return fast
    try:
        e = EventPayload.model_validate(raw)
    except ValidationError as exc:
        raise PayloadError(_reason(exc)) from None
    return Event(
        e.event_id,
        e.user_id,
        e.account_id,
        e.location_id,
        e.external_ids,
        e.timestamp,
        e.event_type,
        e.timestamp.isoformat(),
    )


@functools.cache
def _property_checks() -> dict[type[_Props], PropertyCheck]:
    return {model: PropertyCheck(model) for model in set(EVENT_TYPES.values())}


def parse_event(raw: Any) -> ParsedEvent:
    """The validated envelope and properties (as JSON, `email` split off for the caller to
    pseudonymise); `PayloadError` with a reason that never quotes a value."""
    if type(raw) is not dict and not isinstance(raw, Mapping):  # the ABC check is slow
        raise PayloadError("an event must be a JSON object")
    event = _envelope(raw)
    schema = EVENT_TYPES.get(event.event_type)
    if schema is None:
        raise PayloadError("event_type: unknown event type")
    raw_props = raw.get("properties") or {}
    if type(raw_props) is dict:
        plain = _property_checks()[schema](raw_props)
        if plain is not None:  # the common case, as pydantic would have dumped it
            email = plain.pop("email", None) if schema is EmailEvent else None
            text = to_json(plain).decode()
            if not _suspect(text):
                return ParsedEvent(event, _storable(text), email)
            # Suspect properties take the full path below, which names the field.
    try:
        props = schema.__pydantic_validator__.validate_python(raw_props)
    except ValidationError as exc:
        raise PayloadError("properties." + _reason(exc)) from None
    # `getattr` with a default is slow on pydantic models that lack the field.
    email = props.email if isinstance(props, EmailEvent) else None
    if email is None:
        text = props.__pydantic_serializer__.to_json(props, exclude_none=True).decode()
    else:
        text = props.model_dump_json(exclude_none=True, exclude=_PSEUDONYMISED)
    if _suspect(text):
        checked = props.model_dump(mode="json", exclude_none=True, exclude=_PSEUDONYMISED)
        found = _personal(checked, "properties") or "properties look like personal data"
        raise PayloadError(f"{found}; personal data must not be sent in events")
    return ParsedEvent(event, _storable(text), email)


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def _storable(text: str) -> str:
    """The properties' JSON, unless PostgreSQL's jsonb would refuse it (and fail the batch).

    jsonb cannot hold the NUL character. The JSON escape is checked first (cheap), the parsed
    text only when it appears: a string may also hold the six characters `\\u0000` themselves.
    """
    if "\\u0000" in text and _has_nul(json.loads(text)):
        raise PayloadError("properties: text must not contain the NUL character (\\u0000)")
    return text
