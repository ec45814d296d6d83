"""The precompiled property checks agree with pydantic: same JSON when they accept, and they
never accept what pydantic refuses."""

from __future__ import annotations

import random
import uuid
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError
from pydantic_core import to_json

from tenantry.events import schemas
from tenantry.events.property_checks import PropertyCheck
from tenantry.events.schemas import EVENT_TYPES, parse_event
from tenantry.ids import uuid7
from tenantry.models.enums import Persona

_MODELS = sorted(set(EVENT_TYPES.values()), key=lambda m: m.__name__)
_VALUES: list[Any] = [
    None,
    "",
    "profile",
    "step.1:a-b_c",
    "step one",
    "profile\n",
    "ä",
    "x" * 50,
    "x" * 51,
    "x" * 101,
    "x" * 321,
    "r@example.org",
    *(p.value for p in Persona),
    "Solo-Sarah",
    "google",
    "apple",
    "twitter",
    "password",
    "magic_link",
    "sso",
    "permanent",
    "Permanent",
    0,
    1,
    -1,
    42,
    100,
    101,
    10_000,
    10_001,
    86_400,
    86_401,
    2_592_000,
    2_592_001,
    2**70,
    1.0,
    1.5,
    True,
    False,
    "42",
    "true",
    str(uuid7()),
    str(uuid7()).upper(),
    uuid7().hex,
    f"urn:uuid:{uuid7()}",
    {"tone": "facts"},
    {"tone": "loud"},
    [],
    ["a"],
]


def _random_props(model: type[BaseModel], rng: random.Random) -> dict[str, Any]:
    names = list(model.model_fields)
    keys = rng.sample(names, rng.randint(0, len(names)))
    if rng.random() < 0.5:
        keys.sort(key=names.index)  # most senders keep the documented order
    if rng.random() < 0.1:
        keys.append(rng.choice(["note", "extra", "step_id"]))
    return {k: rng.choice(_VALUES) for k in keys}


def _plain_props(model: type[BaseModel], rng: random.Random) -> dict[str, Any]:
    """Well-formed properties, as SDKs send them."""
    values: dict[str, Any] = {
        "step_id": f"step_{rng.randrange(12)}",
        "persona": rng.choice(list(Persona)).value,
        "duration_seconds": rng.randrange(600),
        "check_id": str(uuid7()),
        "overall_score": rng.randrange(101),
        "email": "r@example.org",
        "campaign_id": "c1",
        "copy_variant": "a",
        "provider": "google",
        "success": rng.random() < 0.5,
        "method": "sso",
    }
    return {k: values[k] for k in model.model_fields if k in values and rng.random() < 0.8}


@pytest.mark.parametrize("model", _MODELS, ids=lambda m: m.__name__)
def test_a_property_check_accepts_only_what_pydantic_accepts_and_dumps_it_alike(
    model: type[BaseModel],
) -> None:
    rng = random.Random(model.__name__)
    check = PropertyCheck(model)
    accepted = 0
    cases = [_random_props(model, rng) for _ in range(3_000)]
    cases += [_plain_props(model, rng) for _ in range(300)]
    for props in cases:
        fast = check(props)
        try:
            validated = model.__pydantic_validator__.validate_python(props)
        except ValidationError:
            assert fast is None, props
            continue
        if fast is not None:
            accepted += 1
            expected = model.__pydantic_serializer__.to_json(validated, exclude_none=True)
            assert to_json(fast) == expected, props
    assert accepted >= 200  # the fast path is really taken (plain properties at least)


def test_events_parse_to_the_same_result_with_and_without_the_precompiled_checks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rng = random.Random(1)
    events: list[dict[str, Any]] = []
    for i in range(2_000):
        event_type = rng.choice(list(EVENT_TYPES))
        model = EVENT_TYPES[event_type]
        props = _plain_props(model, rng) if i % 2 else _random_props(model, rng)
        if i % 7 == 0:
            props["note"] = rng.choice(["call +49 30 1234567", "write to a@example.org", "ok"])
        events.append(
            {
                "event_id": str(uuid7()),
                "timestamp": "2026-03-14T09:00:00Z",
                "event_type": event_type,
                "properties": props,
                "user_id": str(uuid.uuid4()),
            }
        )

    def outcome(raw: dict[str, Any]) -> object:
        try:
            return parse_event(raw)
        except schemas.PayloadError as exc:
            return str(exc)

    fast = [outcome(e) for e in events]
    never = {model: (lambda props: None) for model in set(EVENT_TYPES.values())}
    monkeypatch.setattr(schemas, "_property_checks", lambda: never)
    assert [outcome(e) for e in events] == fast
    assert sum(isinstance(o, str) for o in fast) > 100  # rejections compared too
