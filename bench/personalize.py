"""personalize_p99_ms: `GET /v1/personalize` over HTTP at a fixed 500 requests/s.

A tenant with BENCH_PERSONALIZE_USERS users (default 300; tiny 40), each with analytics consent
and, for nine in ten, personalisation consent. Their onboarding events (a random number of
completed steps, persona, tone and form of address) enter through ingestion (`ingest_batch`),
the relay moves them into a fresh lake and one pipeline run builds the users' segments and
features, as in production. The slot's experiment has three arms (plain, encouraging,
factual; the seed 001 rules point at the last two), so the load mixes the three paths: rule
(low engagement or facts tone, nothing written), bandit (a decision row written and committed)
and default (no consent, nothing written).

`tenantry serve` runs in a subprocess (BENCH_PERSONALIZE_WORKERS workers, default 2) on the
benchmark's database, with a home of its own for the lake. The load generator (the API
benchmark's open-loop client, `bench.api`) sends requests on a fixed schedule of
BENCH_PERSONALIZE_RATE per second (500; tiny 100) for BENCH_PERSONALIZE_SECONDS (10; tiny 1),
users drawn at random; latency counts from each request's scheduled time, so a server that
falls behind cannot hide its queue. A warm-up first (BENCH_PERSONALIZE_WARM_SECONDS, 5; tiny
1): every worker loads the lake and meets nearly every user once, the steady state of a
server whose users come back.
BENCH_PERSONALIZE_ROUNDS rounds (3; tiny 1) alternate the two routes; the figures are the
round with the median p99.

Baseline, same run, same rate and connections: `GET /v1/leads/{id}`, the API's cheapest
authenticated read of a record (authentication, one compiled read). Target: p99 <= 10 ms
(seed 001 allows 200 ms). In `params`, once each after the rounds: the rules and defaults
alone at the full rate, and the bandit's decisions alone at their share of it.
"""

from __future__ import annotations

import base64
import random
import tempfile
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.api import CpuMeter, Run, Server, _get, _loop_run, _open, _postmaster_pid, _summary
from bench.common import BENCH_MASTER, BENCH_MASTER_BYTES, Result, database, fknob, knob
from tenantry.composition import open_database
from tenantry.db.engine import Database
from tenantry.db.provider import DatabaseTarget
from tenantry.decisions.context import PERSONAS
from tenantry.decisions.experiments import ExperimentSpec, create_experiment
from tenantry.decisions.profiles import LakeFeatureCache, LakeProfileSource
from tenantry.decisions.runtime import Personalization
from tenantry.events.ingest import MAX_BATCH_EVENTS, ingest_batch
from tenantry.events.relay import relay_once
from tenantry.ids import uuid7
from tenantry.lake.vocabulary import ADDRESS_FORMS, TONES
from tenantry.models import Lead, Location, Membership, User
from tenantry.models.enums import ConsentPurpose, LeadSource, LeadStatus, Vertical
from tenantry.pipeline.runner import run_pipeline
from tenantry.privacy.keys import KeyRing
from tenantry.privacy.subjects import resolve_subject
from tenantry.privacy.vault import keyring
from tenantry.services.apikeys import create_api_key
from tenantry.services.platform import create_tenant
from tenantry.services.privacy.consent import Notice, append_consent

DB_NAME = "bench_personalize"
SLOT = "welcome"
ARMS = ("plain", "encouraging", "factual")
NOTICE = Notice("bench-1", "Personalised onboarding tips; withdraw at any time.")


def _users(db: Database, tenant: uuid.UUID, n: int, rng: random.Random) -> list[uuid.UUID]:
    ids = []
    with db.platform_uow(actor="bench", tenant_id=tenant) as uow:
        ring = KeyRing(uow, BENCH_MASTER)
        for i in range(n):
            email = f"bench-user-{i}@example.com"
            user = User(id=uow.ids(), email=email)
            uow.session.add(user)
            uow.flush()
            uow.session.add(
                Membership(tenant_id=tenant, id=uow.ids(), user_id=user.id, role="staff")
            )
            subject = resolve_subject(uow, ring, email=email)
            purposes = [ConsentPurpose.ANALYTICS]
            if rng.random() < 0.9:
                purposes.append(ConsentPurpose.PERSONALISATION)
            for purpose in purposes:
                append_consent(uow, subject.id, purpose, "granted", source="bench", notice=NOTICE)
            ids.append(user.id)
        uow.commit()
    return ids


def _events(user: uuid.UUID, rng: random.Random, now: datetime) -> list[dict[str, Any]]:
    """A user's onboarding: started some days ago, then 0 to 15 completed steps."""
    prefs = {"tone": rng.choice(TONES), "address": rng.choice(ADDRESS_FORMS)}
    persona = rng.choice(PERSONAS)
    first = now - timedelta(days=rng.randint(1, 20), hours=1)
    times = [first] + [first + (now - first) * rng.random() for _ in range(rng.randint(0, 15))]
    return [
        {
            "event_id": str(uuid7()),
            "timestamp": at.isoformat().replace("+00:00", "Z"),
            "event_type": "step_started" if i == 0 else "step_completed",
            "user_id": str(user),
            "properties": {
                "step_id": f"step_{i}",
                "persona": persona,
                "comm_prefs": prefs,
                "duration_seconds": rng.randint(5, 300),
            },
        }
        for i, at in enumerate(sorted(times))
    ]


def _bandit_users(db: Database, home: Path, tenant: uuid.UUID, users: list[uuid.UUID]) -> set[str]:
    """The users whose answer is the bandit's (not a rule, not the default arm): asked in
    units of work that roll back, so nothing is logged."""
    runtime = Personalization(LakeProfileSource(LakeFeatureCache(home, interval=0)))
    found = set()
    for user in users:
        with db.tenant_uow(tenant, actor="bench") as uow:
            if runtime.personalize(uow, SLOT, user).source == "bandit":
                found.add(str(user))
    return found


def _prepare(
    server: DatabaseTarget, home: Path
) -> tuple[DatabaseTarget, str, list[str], str, set[str]]:
    """The database, the lake under `home`; returns the target, the API key, the users, the
    baseline's lead id and the users the bandit decides for."""
    target = database(server, DB_NAME, fresh=True)
    db = open_database(target=target, master=BENCH_MASTER)
    rng = random.Random(21)
    try:
        with db.platform_uow(actor="bench") as uow:
            tenant = create_tenant(
                uow, slug="bench-personalize", legal_name="Bench Personal GmbH",
                vertical=Vertical.RESTAURANT,
            )  # fmt: skip
            location = Location(
                tenant_id=tenant.id, id=uow.ids(), name="Am Markt", slug="am-markt",
                vertical=Vertical.RESTAURANT,
            )  # fmt: skip
            uow.session.add(location)
            uow.commit()
        users = _users(db, tenant.id, knob("BENCH_PERSONALIZE_USERS", 300, 40), rng)
        now = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
        events = [e for u in users for e in _events(u, rng, now)]
        for start in range(0, len(events), MAX_BATCH_EVENTS):
            with db.tenant_uow(tenant.id, actor="bench") as uow:
                ingest_batch(uow, keyring(uow), events[start : start + MAX_BATCH_EVENTS])
                uow.commit()
        relay_once(db, home)
        run = run_pipeline(home)
        if run.status != "ok":
            raise RuntimeError("the pipeline run failed")
        with db.platform_uow(actor="bench", tenant_id=tenant.id) as uow:
            spec = ExperimentSpec(
                slot=SLOT, arms=ARMS, context=("persona", "comm_prefs", "onb_day")
            )
            create_experiment(uow, spec)
            lead = Lead(
                tenant_id=tenant.id, id=uow.ids(), location_id=location.id,
                source=LeadSource.WEB_QUOTE, status=LeadStatus.NEW, score=50,
                email="bench-lead@example.com", first_name="Bench",
            )  # fmt: skip
            uow.session.add(lead)
            key = create_api_key(uow, tenant_id=tenant.id, role="owner", name="bench")
            uow.commit()
        bandit = _bandit_users(db, home, tenant.id, users)
        return target, key.secret, [str(u) for u in users], str(lead.id), bandit
    finally:
        db.dispose()


def _median_p99(runs: list[Run]) -> Run:
    ordered = sorted(runs, key=lambda r: r.ms(0.99))
    return ordered[(len(ordered) - 1) // 2]


def run(server: DatabaseTarget) -> Result:
    workers = knob("BENCH_PERSONALIZE_WORKERS", 2, 1)
    rate = fknob("BENCH_PERSONALIZE_RATE", 500.0, 100.0)
    seconds = fknob("BENCH_PERSONALIZE_SECONDS", 10.0, 1.0)
    rounds = knob("BENCH_PERSONALIZE_ROUNDS", 3, 1)
    conns = knob("BENCH_PERSONALIZE_CONNECTIONS", 32, 8)
    warm = fknob("BENCH_PERSONALIZE_WARM_SECONDS", 5.0, 1.0)
    rng = random.Random(7)
    with tempfile.TemporaryDirectory(prefix="tenantry-personalize-bench-") as tmp:
        home = Path(tmp)
        target, key, users, lead, bandit = _prepare(server, home)
        others = [u for u in users if u not in bandit] or users
        deciding = sorted(bandit) or users
        url = server.admin_url.set(database=DB_NAME)
        env = {
            "TENANTRY_HOME": str(home),  # the lake the pipeline built
            "TENANTRY_DATABASE_URL": url.render_as_string(hide_password=False),
            "TENANTRY_MASTER_KEY": base64.b64encode(BENCH_MASTER_BYTES).decode(),
        }

        def personalize(_n: int) -> bytes:
            return _get(f"/v1/personalize?slot={SLOT}&user={rng.choice(users)}", key)

        def baseline(_n: int) -> bytes:
            return _get(f"/v1/leads/{lead}", key)

        def answered(_n: int) -> bytes:  # rules and defaults only: nothing written
            return _get(f"/v1/personalize?slot={SLOT}&user={rng.choice(others)}", key)

        def decided(_n: int) -> bytes:  # the bandit's (logged) decisions only
            return _get(f"/v1/personalize?slot={SLOT}&user={rng.choice(deciding)}", key)

        api: list[Run] = []
        base: list[Run] = []
        proc = Server(target, workers, DB_NAME, env=env)
        try:
            port = proc.port
            meter = CpuMeter(proc.proc.pid, _postmaster_pid())
            # warm-up: each worker loads the lake and meets (nearly) every user once
            _loop_run(_open(port, personalize, rate, conns, warm))
            _loop_run(_open(port, baseline, rate, conns, 1.0))
            for _ in range(rounds):
                api.append(
                    meter.measure(lambda: _loop_run(_open(port, personalize, rate, conns, seconds)))
                )
                base.append(
                    meter.measure(lambda: _loop_run(_open(port, baseline, rate, conns, seconds)))
                )
            # the two kinds of answer apart, once each: the rate of each in the mix above
            share = len(bandit) / len(users)
            parts = {
                "rules_and_defaults": meter.measure(
                    lambda: _loop_run(_open(port, answered, rate, conns, seconds))
                ),
                "bandit_decisions": meter.measure(
                    lambda: _loop_run(_open(port, decided, max(1.0, rate * share), conns, seconds))
                ),
            }
        finally:
            proc.stop()
    chosen, chosen_base = _median_p99(api), _median_p99(base)
    if chosen.errors or chosen_base.errors:
        raise RuntimeError(f"{chosen.errors + chosen_base.errors} requests failed")
    p99, base_p99 = chosen.ms(0.99), chosen_base.ms(0.99)
    return Result(
        name="personalize_p99_ms",
        value=p99,
        unit="ms",
        baseline="GET /v1/leads/{id} (authenticated compiled read), same rate, same run",
        baseline_value=base_p99,
        ratio=round(p99 / base_p99, 3),
        target="p99 <= 10 ms at 500 req/s (seed 001: 200 ms)",
        params={
            "rate_per_s": rate,
            "seconds": seconds,
            "rounds": rounds,
            "workers": workers,
            "connections": conns,
            "warm_up_seconds": warm,
            "users": len(users),
            "personalize": _summary(chosen),
            "baseline": _summary(chosen_base),
            "bandit_share": round(len(bandit) / len(users), 3),
            "rules_and_defaults_alone_at_rate": _summary(parts["rules_and_defaults"]),
            "bandit_decisions_alone_at_their_share_of_rate": _summary(parts["bandit_decisions"]),
            "p99_ms_per_round": [r.ms(0.99) for r in api],
            "baseline_p99_ms_per_round": [r.ms(0.99) for r in base],
            "load_generator": "open loop, fixed schedule, asyncio keep-alive client, same machine",
        },
    )
