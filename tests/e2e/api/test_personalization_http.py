"""`GET /v1/personalize` and `GET /v1/decide` over HTTP, on profiles the pipeline built from
ingested events: the seed 001 rules, the bandit (decision logged), no consent (the default
arm, nothing written), a consent withdrawal, refused context attributes and 404s.

The test has a database of its own (`tests.private_db`): it relays every tenant's events.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from tenantry.api.app import create_app
from tenantry.config import Settings
from tenantry.db.provider import DatabaseTarget
from tenantry.decisions.experiments import ExperimentSpec, create_experiment
from tenantry.decisions.profiles import LakeFeatureCache, LakeProfileSource
from tenantry.decisions.runtime import Personalization
from tests.e2e.api.conftest import api_settings, issue_key
from tests.personalize_support import World, build_world
from tests.private_db import private_database

SLOT = "welcome-banner"
ARMS = ("neutral", "encouraging", "factual")  # rules default to encouraging / factual


@dataclass
class Served:
    world: World
    client: TestClient
    headers: dict[str, str]

    def decisions(self) -> list[sa.Row[tuple[str, str, str, dict[str, str]]]]:
        with self.world.db.tenant_uow(self.world.tenant) as uow:
            return list(
                uow.session.execute(
                    sa.text("SELECT id, arm, user_key, context FROM decisions.decisions")
                ).all()
            )


@pytest.fixture(scope="module")
def served(
    server: DatabaseTarget, settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    home = tmp_path_factory.mktemp("personalize-home")
    with private_database(server, settings, "personalize_http") as db:
        world = build_world(db, home)
        with db.tenant_uow(world.tenant) as uow:
            create_experiment(
                uow,
                ExperimentSpec(slot=SLOT, arms=ARMS, context=("persona", "comm_prefs", "onb_day")),
            )
            uow.commit()
        app = create_app(db, settings=api_settings(settings, home=home))
        with TestClient(app, raise_server_exceptions=False) as client:
            yield Served(world, client, issue_key(db, world.tenant, "analyst"))


def _get(s: Served, route: str, kind: str | None = None, **params: str) -> dict[str, object]:
    query = {"slot": SLOT, **params}
    if kind is not None:
        query["user"] = str(s.world.users[kind])
    r = s.client.get(f"/v1/{route}", params=query, headers=s.headers)
    return {"status": r.status_code, **r.json()}


def test_low_engagement_gets_the_encouraging_copy_by_rule_and_nothing_is_logged(
    served: Served,
) -> None:
    before = len(served.decisions())
    body = _get(served, "personalize", "low")
    assert body["status"] == 200, body
    assert (body["copy"], body["source"], body["rule"]) == ("encouraging", "rule", "low_engagement")
    assert body["decision_id"] is None
    assert len(served.decisions()) == before


def test_the_facts_tone_gets_the_factual_copy_by_rule(served: Served) -> None:
    body = _get(served, "personalize", "facts")
    assert (body["copy"], body["source"], body["rule"]) == ("factual", "rule", "facts_tone")


def test_everyone_else_gets_the_bandit_and_the_decision_is_logged(served: Served) -> None:
    body = _get(served, "personalize", "bandit")
    assert body["status"] == 200 and body["source"] == "bandit" and body["rule"] is None
    assert body["copy"] in ARMS and 0 < float(str(body["propensity"])) <= 1
    rows = {str(r.id): r for r in served.decisions()}
    row = rows[str(body["decision_id"])]
    assert row.arm == body["copy"]
    assert row.context == {"persona": "wachstums-walter", "comm_prefs": "brief/neutral"} | {
        "onb_day": "4-7"
    }


def test_decide_uses_the_profile_and_the_overrides_it_allows(served: Served) -> None:
    body = _get(served, "decide", "low", persona="ketten-katrin", onb_day="0")
    assert body["status"] == 200, body
    assert body["arm"] in ARMS and body["decision_id"] is not None
    assert body["policy"] in ("uniform", "thompson") and body["slot"] == SLOT
    row = {str(r.id): r for r in served.decisions()}[str(body["decision_id"])]
    assert row.context == {
        "persona": "ketten-katrin",
        "comm_prefs": "encouraging/du",
        "onb_day": "0",
    }


def test_without_consent_the_default_arm_comes_back_and_nothing_is_written(
    served: Served,
) -> None:
    before = len(served.decisions())
    decided = _get(served, "decide", "no_consent")
    personal = _get(served, "personalize", "no_consent")
    assert (decided["status"], decided["arm"], decided["decision_id"]) == (200, "neutral", None)
    assert decided["reason"] == "no_consent"
    assert (personal["copy"], personal["source"], personal["decision_id"]) == (
        "neutral",
        "default",
        None,
    )
    assert len(served.decisions()) == before


def test_a_withdrawn_consent_stops_personalization_with_the_next_request(served: Served) -> None:
    assert _get(served, "personalize", "facts")["source"] == "rule"
    served.world.consent("facts", "withdrawn")
    try:
        body = _get(served, "personalize", "facts")
        assert (body["copy"], body["source"], body["decision_id"]) == ("neutral", "default", None)
    finally:
        served.world.consent("facts", "granted")


@pytest.mark.parametrize("name", ["gender", "age", "origin", "Ethnicity", "colour"])
def test_sensitive_or_unknown_query_attributes_are_refused_by_name(
    served: Served, name: str
) -> None:
    before = len(served.decisions())
    for route in ("decide", "personalize"):
        body = _get(served, route, "bandit", **{name: "value-x"})
        assert body["status"] == 422, body
        assert body["attribute"] == name and name in str(body["detail"])
        assert "value-x" not in str(body)
    assert len(served.decisions()) == before


def test_context_overrides_with_unknown_values_and_on_personalize_are_refused(
    served: Served,
) -> None:
    bad = _get(served, "decide", "bandit", persona="nobody")
    assert (bad["status"], bad["attribute"]) == (422, "persona")
    assert _get(served, "decide", "bandit", comm_prefs="facts")["status"] == 422
    assert _get(served, "personalize", "bandit", persona="solo-sarah")["status"] == 422


def test_unknown_slots_users_and_other_tenants_users_are_not_found(served: Served) -> None:
    w = served.world
    for route in ("decide", "personalize"):
        for params in (
            {"slot": "no-such-slot", "user": str(w.users["bandit"])},
            {"slot": SLOT, "user": str(uuid.uuid4())},
            {"slot": SLOT, "user": str(w.stranger)},
        ):
            r = served.client.get(f"/v1/{route}", params=params, headers=served.headers)
            assert r.status_code == 404, (route, params, r.text)
            assert r.headers["content-type"] == "application/problem+json"
        r = served.client.get(
            f"/v1/{route}", params={"slot": SLOT, "user": "not-a-uuid"}, headers=served.headers
        )
        assert r.status_code == 422
        assert served.client.get(f"/v1/{route}", params={"slot": SLOT}).status_code == 401


def test_the_fast_path_answers_as_the_unit_of_work_does(served: Served) -> None:
    """Once the process knows a user's subject and the slot, rules and defaults come from
    one pipelined statement and memory: the same answers a fresh runtime gives in a unit of
    work."""
    w = served.world
    runtime = served.client.app.state.api.personalization  # type: ignore[attr-defined]
    fresh = Personalization(LakeProfileSource(LakeFeatureCache(w.home, interval=0)))
    for kind in ("low", "facts", "no_consent", "bandit"):
        _get(served, "personalize", kind)  # the process now keeps the user's subject
        assert runtime.profiles.members.check(w.tenant, w.users[kind]) is not None
        fast = _get(served, "personalize", kind)
        with w.db.tenant_uow(w.tenant) as uow:
            slow = fresh.personalize(uow, SLOT, w.users[kind]).as_json()
        assert (fast["source"], fast["rule"]) == (slow["source"], slow["rule"]), kind
        if slow["source"] != "bandit":
            assert (fast["copy"], fast["decision_id"]) == (slow["copy"], None), kind
    decided = _get(served, "decide", "no_consent")
    assert (decided["arm"], decided["reason"], decided["decision_id"]) == (
        "neutral",
        "no_consent",
        None,
    )
