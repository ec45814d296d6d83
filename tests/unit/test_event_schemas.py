"""Event payload validation without a database: envelope, property schemas, personal data."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tenantry.events.schemas import EVENT_TYPES, PayloadError, is_junk_id, parse_event
from tenantry.ids import uuid7


def _event(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "event_id": str(uuid7()),
        "timestamp": "2026-03-14T09:00:00Z",
        "event_type": "step_completed",
        "properties": {"step_id": "profile"},
    }
    return base | overrides


def test_a_seed_payload_parses_with_its_properties_as_json() -> None:
    parsed = parse_event(
        _event(
            user_id=str(uuid7()),
            external_ids={"gbp_place_id": "ChIJ1", "ga4_client_id": "123.456"},
            properties={"step_id": "profile", "persona": "solo-sarah", "duration_seconds": 4},
        )
    )
    assert parsed.event.event_type == "step_completed"
    assert parsed.properties == '{"step_id":"profile","persona":"solo-sarah","duration_seconds":4}'


def test_the_fast_and_the_full_check_agree() -> None:
    """Integer external ids take the full (pydantic) path; the result is the same."""
    fast = parse_event(_event(external_ids={"fb_page_id": "789012345"}))
    full = parse_event(_event(external_ids={"fb_page_id": 789012345}))
    assert fast.properties == full.properties
    assert str(fast.event.external_ids["fb_page_id"]) == str(full.event.external_ids["fb_page_id"])


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"event_id": str(uuid.uuid4())}, "event_id: must be a UUIDv7"),
        ({"event_id": f"{uuid7()}\n"}, "event_id: must be a UUIDv7"),  # would break a COPY line
        ({"timestamp": "2026-03-14T09:00:00"}, "timestamp"),
        ({"event_type": "made_up"}, "event_type: unknown event type"),
        ({"external_ids": {"twitter": "x"}}, "external_ids"),
        ({"external_ids": None}, "external_ids"),
        ({"external_ids": {"gbp_place_id": "ChIJ\x00"}}, "external_ids: gbp_place_id"),
        ({"external_ids": []}, "external_ids"),
        (
            {"properties": {"step_id": "a", "note": "a\x00b"}},
            "properties: text must not contain the NUL",
        ),
        ({"properties": {"step_id": "a", "x\x00": 1}}, "properties"),
        ({"surprise": 1}, "surprise"),
        ({"user_id": "not-a-uuid"}, "user_id"),
        ({"properties": {}}, "properties.step_id"),
        ({"properties": {"step_id": "a", "duration_seconds": -1}}, "properties.duration_seconds"),
    ],
)
def test_invalid_events_name_the_field(overrides: dict[str, Any], reason: str) -> None:
    with pytest.raises(PayloadError) as exc:
        parse_event(_event(**overrides))
    assert str(exc.value).startswith(reason)


def test_the_six_characters_of_a_nul_escape_are_ordinary_text() -> None:
    parsed = parse_event(_event(properties={"step_id": "a", "note": "literally \\u0000"}))
    assert parsed.properties == '{"step_id":"a","note":"literally \\\\u0000"}'


@pytest.mark.parametrize(
    "value",
    ["a.b@example.org", "+49 30 1234567", "0049 30 1234567", "030 1234567", "030 123 45 67"],
)
def test_personal_data_in_properties_is_refused_without_echoing_it(value: str) -> None:
    with pytest.raises(PayloadError) as exc:
        parse_event(_event(properties={"step_id": "x", "note": value}))
    assert value not in str(exc.value) and "personal data" in str(exc.value)


@pytest.mark.parametrize("value", ["2026-03-14", "789012345", "123.456", str(uuid7())])
def test_dates_numbers_and_uuids_are_not_mistaken_for_personal_data(value: str) -> None:
    parse_event(_event(properties={"step_id": "x", "note": value}))


def test_the_email_of_an_email_event_is_split_off_for_pseudonymisation() -> None:
    parsed = parse_event(
        _event(event_type="email_open", properties={"email": "a@example.org", "campaign_id": "c"})
    )
    assert parsed.email == "a@example.org" and "example.org" not in parsed.properties


@pytest.mark.parametrize("value", ["", " ", "null", "NULL", "undefined", "anonymous", "0", "0000"])
def test_junk_ids_are_recognised(value: str) -> None:
    assert is_junk_id(value)


@pytest.mark.parametrize("value", ["ChIJN1t_tDeuEmsRUsoyG83frY4", "123.456", "789012345"])
def test_real_ids_are_not_junk(value: str) -> None:
    assert not is_junk_id(value)


def test_every_seed_fact_has_event_types() -> None:
    prefixes = {t.split("_")[0] for t in EVENT_TYPES}
    assert {"step", "visibility", "email", "login"} <= prefixes
