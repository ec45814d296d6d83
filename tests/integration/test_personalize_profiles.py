"""User profiles for decisions: built from events that entered through ingestion, the relay
and a pipeline run; consent read from the database on every call; the process cache of the
lake's features reloaded when the pipeline publishes a new version.

The test has a database of its own (`tests.private_db`): it relays every tenant's events.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from deltalake import DeltaTable, write_deltalake

from tenantry.config import Settings
from tenantry.db.provider import DatabaseTarget
from tenantry.decisions.context import Context, Profile
from tenantry.decisions.personalize import (
    FACTS_TONE,
    LOW_ENGAGEMENT,
    ContextAttributeError,
    context_overrides,
    match_rule,
)
from tenantry.decisions.profiles import LakeFeatureCache, LakeProfileSource, comm_prefs_of
from tenantry.errors import NotFoundError
from tenantry.models import User
from tenantry.models.enums import ConsentPurpose
from tenantry.pipeline.catalog import model, model_path
from tests.personalize_support import FIRST_DAY, KINDS, World, build_world, member, onboarding
from tests.private_db import private_database

RULES = {LOW_ENGAGEMENT: "encouraging", FACTS_TONE: "factual"}


@pytest.fixture(scope="module")
def world(
    server: DatabaseTarget, settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    with private_database(server, settings, "profiles") as db:
        yield build_world(db, tmp_path_factory.mktemp("profiles-home"))


def _profile(world: World, source: LakeProfileSource, user: uuid.UUID) -> Profile:
    with world.db.tenant_uow(world.tenant) as uow:
        return source.profile(uow, user)


def test_profiles_carry_the_segments_and_preferences_the_events_imply(world: World) -> None:
    source = LakeProfileSource(LakeFeatureCache(world.home, interval=0))
    # signup is the first event, FIRST_DAY days ago; the pipeline's as-of date is the day
    # after the newest event (today or, just after midnight, yesterday): 5 or 6 days
    assert FIRST_DAY == 5
    onb = "4-7"
    expected_engagement = {"low": "low", "facts": "medium", "bandit": "high", "grower": "low"}
    for kind, engagement in expected_engagement.items():
        _steps, persona, tone, address = KINDS[kind]
        p = _profile(world, source, world.users[kind])
        assert p.consents and p.user_key is not None, kind
        assert p.context == Context(persona=persona, comm_prefs=f"{tone}/{address}", onb_day=onb)
        assert (p.engagement_level, p.preferred_comm_tone) == (engagement, tone), kind


def test_rules_fire_on_low_engagement_first_then_on_the_facts_tone(world: World) -> None:
    source = LakeProfileSource(LakeFeatureCache(world.home, interval=0))
    found = {k: match_rule(_profile(world, source, world.users[k]), RULES) for k in KINDS}
    assert found["low"] is not None and (found["low"].rule, found["low"].arm) == (
        LOW_ENGAGEMENT,
        "encouraging",
    )
    assert found["facts"] is not None and found["facts"].arm == "factual"
    assert found["bandit"] is None
    assert found["no_consent"] is None  # tone facts, but no consent: no rule, the default arm
    # a rule the experiment does not name is skipped
    low = _profile(world, source, world.users["low"])
    assert match_rule(low, {FACTS_TONE: "factual"}) is None


def test_a_user_without_consent_or_lake_rows_gets_an_empty_context(world: World) -> None:
    source = LakeProfileSource(LakeFeatureCache(world.home, interval=0))
    none = _profile(world, source, world.users["no_consent"])
    assert (none.consents, none.context, none.engagement_level) == (False, Context(), None)
    assert none.user_key is not None
    # a member the pipeline has not seen yet
    both = (ConsentPurpose.ANALYTICS, ConsentPurpose.PERSONALISATION)
    new = member(world.db, world.tenant, f"pers-new-{uuid.uuid4().hex[:6]}@example.com", *both)
    empty = _profile(world, source, new)
    assert empty.consents and empty.user_key is not None
    assert (empty.context, empty.engagement_level, empty.preferred_comm_tone) == (
        Context(),
        None,
        None,
    )


def test_a_user_with_only_consent_events_is_new_and_little_engaged(world: World) -> None:
    """The relayed consent makes them a user of the lake: no steps yet, so engagement low."""
    source = LakeProfileSource(LakeFeatureCache(world.home, interval=0))
    p = _profile(world, source, world.users["no_events"])
    assert p.consents and p.engagement_level == "low"
    assert (p.context.persona, p.context.comm_prefs, p.preferred_comm_tone) == (None, None, None)
    assert match_rule(p, RULES) == match_rule(_profile(world, source, world.users["low"]), RULES)


def test_unknown_users_and_other_tenants_users_are_not_found(world: World) -> None:
    source = LakeProfileSource(LakeFeatureCache(world.home, interval=0))
    for user in (uuid.uuid4(), world.stranger):
        with pytest.raises(NotFoundError):
            _profile(world, source, user)


def test_a_consent_withdrawal_stops_personalization_at_the_next_call(world: World) -> None:
    source = LakeProfileSource(LakeFeatureCache(world.home, interval=0))
    assert _profile(world, source, world.users["facts"]).consents
    world.consent("facts", "withdrawn")
    try:
        p = _profile(world, source, world.users["facts"])
        assert (p.consents, p.context, match_rule(p, RULES)) == (False, Context(), None)
    finally:
        world.consent("facts", "granted")
    assert _profile(world, source, world.users["facts"]).consents


def test_the_cache_serves_from_memory_and_reloads_after_a_new_publish(world: World) -> None:
    cache = LakeFeatureCache(world.home, interval=0)
    source = LakeProfileSource(cache)
    grower = world.users["grower"]
    assert _profile(world, source, grower).engagement_level == "low"
    for _ in range(3):
        _profile(world, source, grower)
    assert cache.loads == 1  # one load for the tenant, then memory
    assert cache.poll() is False  # nothing new published

    _steps, persona, _tone, address = KINDS["grower"]
    # nine more completed steps, later than the first ones (which lie 2 hours back), in tone
    # facts: `onboarding` dates its steps 2 hours before `now`
    later = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=110)
    world.ingest(onboarding(grower, 9, persona, "facts", address, now=later)[1:])
    world.publish()
    assert _profile(world, source, grower).engagement_level == "low"  # not before the poll
    assert cache.poll() is True
    p = _profile(world, source, grower)
    assert (p.engagement_level, p.preferred_comm_tone) == ("high", "facts")
    assert p.context.comm_prefs == f"facts/{address}"


def test_the_refresher_thread_picks_up_a_publish_by_itself(world: World) -> None:
    cache = LakeFeatureCache(world.home, interval=0.05)
    source = LakeProfileSource(cache)
    cache.start()
    try:
        assert _profile(world, source, world.users["no_events"]).context.persona is None
        more = onboarding(world.users["no_events"], 1, "solo-sarah", "brief", "du", now=_now())
        world.ingest(more)
        world.publish()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            p = _profile(world, source, world.users["no_events"])
            if p.context.persona is not None:
                break
            time.sleep(0.02)
        assert p.context == Context(persona="solo-sarah", comm_prefs="brief/du", onb_day="4-7")
        assert p.preferred_comm_tone == "brief"
    finally:
        cache.stop()


def test_a_table_change_without_a_finished_run_waits_for_the_run_to_settle(
    world: World,
) -> None:
    """Tables rewritten outside a pipeline run (a lake erasure) are loaded after `settle`
    seconds; within a run, the run log's entry comes first."""
    now = [100.0]
    cache = LakeFeatureCache(world.home, interval=0, settle=5, clock=lambda: now[0])
    cache.features(world.tenant)
    m = model("dim_user")
    path = model_path(world.home, m)
    rows = DeltaTable(str(path)).to_pyarrow_table()
    write_deltalake(str(path), rows, mode="overwrite")  # the same rows, a new version
    assert cache.poll() is False  # maybe a run still publishing: wait
    now[0] += 4
    assert cache.poll() is False
    now[0] += 2
    assert cache.poll() is True and cache.loads == 2
    assert cache.poll() is False


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)


def test_context_overrides_accept_only_whitelisted_attributes_with_known_values() -> None:
    own = ("slot", "user")
    params = [("slot", "s"), ("user", "u"), ("persona", "solo-sarah"), ("onb_day", "1-3")]
    assert context_overrides(params, allowed_other=own) == {
        "persona": "solo-sarah",
        "onb_day": "1-3",
    }
    for name, value in (
        ("gender", "value-1"),
        ("Age", "value-2"),
        ("origin", "value-3"),
        ("persona", "value-4"),
        ("comm_prefs", "value-5"),
        ("colour", "value-6"),
    ):
        with pytest.raises(ContextAttributeError) as err:  # named, the value never echoed
            context_overrides([(name, value)], allowed_other=own)
        assert err.value.attribute == name and value not in str(err.value)
    with pytest.raises(ContextAttributeError):
        context_overrides([("persona", "solo-sarah")], allowed_other=own, attributes=())


def test_communication_preferences_become_tone_slash_address() -> None:
    assert comm_prefs_of('{"tone": "facts", "address": "du", "help_level": "low"}') == "facts/du"
    for bad in (None, "", "{", "[]", '{"tone": "facts"}', '{"tone": "loud", "address": "du"}'):
        assert comm_prefs_of(bad) is None


def test_the_kept_link_is_checked_on_every_call(world: World) -> None:
    """Once a user's subject is known, each call still sees a new address, an erased subject
    and a removed membership."""
    source = LakeProfileSource(LakeFeatureCache(world.home, interval=0))
    both = (ConsentPurpose.ANALYTICS, ConsentPurpose.PERSONALISATION)
    user = member(world.db, world.tenant, f"pers-moving-{uuid.uuid4().hex[:6]}@example.com", *both)
    first = _profile(world, source, user)
    assert first.consents and first.user_key is not None

    new_address = f"pers-moved-{uuid.uuid4().hex[:6]}@example.com"
    with world.db.platform_uow(tenant_id=world.tenant) as uow:
        row = uow.session.get(User, user)
        assert row is not None
        row.email = new_address  # no subject under the new address yet
        uow.commit()
    moved = _profile(world, source, user)
    assert (moved.user_key, moved.consents) == (None, False)
    world.emails["moving"] = new_address
    world.consent("moving", "granted")
    again = _profile(world, source, user)
    assert again.consents and again.user_key not in (None, first.user_key)

    with world.db.platform_uow(tenant_id=world.tenant) as uow:
        uow.session.execute(
            sa.text("UPDATE privacy.subjects SET erased_at = now() WHERE pseudonym = :p"),
            {"p": again.user_key},
        )
        uow.commit()
    erased = _profile(world, source, user)
    assert (erased.user_key, erased.consents) == (None, False)

    with world.db.platform_uow(tenant_id=world.tenant) as uow:
        uow.session.execute(
            sa.text("DELETE FROM identity.memberships WHERE user_id = :u"), {"u": user}
        )
        uow.commit()
    with pytest.raises(NotFoundError):
        _profile(world, source, user)
