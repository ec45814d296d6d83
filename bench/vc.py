"""Visibility-check benchmarks: the time of a whole check and the evidence behind its statements,
against the local sources of `tests/insight_support/internet.py` (the business's website and
imprint, the Places API's details and nearby search, the Business Profile's location and
reviews, the Graph API's Facebook page and posts and Instagram user and media: every collector
applies, over real HTTP on 127.0.0.1).

- `vc_check_seconds`: checks run one after another, each from `request_check` to the end of
  `run_pending` (collect, ledger, rubric, the default `rules` analyser, publish), cycling over
  BENCH_VC_LOCATIONS locations (one tenant each: a tenant has one location per Google place id,
  and the local Places API knows one); every source answers after BENCH_VC_LATENCY_MS.
  Baseline in the same run, interleaved check by check: the bare fetches of the same sources,
  the URIs of the first check's retrievals fetched with a plain `httpx.Client` per collector
  (made once, kept for the run), one thread per collector, each collector's fetches in
  sequence as the collector makes them (tokens and keys as the collectors send them; the
  nearby search's body as the collector posted it). Value: p95 check seconds; ratio: over the
  bare fetches' p95 (target: p95 <= 1 s, ratio <= 2). `params` add p50s, the p95 of the
  runner's collect phase alone and the p50 of each of its phases.
- `evidence_coverage`: the share of published statements that have at least one evidence row
  of their own check, counted in SQL over `insight.statements`, `statement_evidence` and
  `evidence` (no counter trusted), after BENCH_VC_COVERAGE_CHECKS checks with the default
  analyser (no added latency). Must be 1.0. Baseline: the share the analysis runs report
  (published over published plus rejected), i.e. what the analyser itself produced backed.
- `evidence_coverage_llm`: the same with `vc_analyser=llm` against a local server speaking the
  OpenAI chat-completions protocol whose model hallucinates: it reads the evidence ids out of
  the prompt and cites some of them, but a fixed share of its statements (BENCH_VC_UNBACKED,
  seeded) cites a made-up UUID or nothing. Value: the share of published statements with
  evidence (must be 1.0); baseline: the share of the model's raw statements that were backed
  (what a system without the gate would publish). `params` hold the rejected and produced
  counts and the `evidence_coverage` KPI of `tenant_kpis` (published over published plus
  rejected), summed over the benchmark's tenants.

The database is fresh per run (`bench_vc`) and shared by the three; each has tenants of its
own. Nothing is printed of what the sources or the model return.

Environment: BENCH_VC_CHECKS (100; tiny 5), BENCH_VC_LOCATIONS (10; tiny 3),
BENCH_VC_LATENCY_MS (per response of every source, 50), BENCH_VC_COVERAGE_CHECKS (1000;
tiny 20), BENCH_VC_LLM_CHECKS (200; tiny 5), BENCH_VC_UNBACKED (share of the model's
statements that cite nothing real, 0.1).
"""

from __future__ import annotations

import atexit
import json
import random
import re
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import sqlalchemy as sa
from pydantic import SecretStr
from tests.insight_support.internet import (
    GOOGLE_TOKEN,
    META_TOKEN,
    PLACES_KEY,
    LocalInternet,
    local_internet,
)

from bench.common import (
    BENCH_MASTER,
    Result,
    database,
    fknob,
    knob,
    median,
    percentile,
    scaled_name,
    settings,
)
from tenantry.composition import open_database
from tenantry.config import Settings
from tenantry.db.engine import Database
from tenantry.db.provider import DatabaseTarget
from tenantry.insight.checks import request_check
from tenantry.insight.collectors.places import DETAILS_MASK, NEARBY_MASK
from tenantry.insight.facts import AnalysisOutput, Collected, EvidenceItem, Target
from tenantry.insight.kpis import tenant_kpis
from tenantry.insight.runner import CheckRunner, Outcome
from tenantry.insight.worker import build_runner, run_pending
from tenantry.models import Location, Retrieval, VisibilityCheck
from tenantry.models.enums import LegalForm, MembershipRole, Vertical, VisibilityCheckStatus
from tenantry.services.platform import create_tenant
from tenantry.services.principal import Principal

COLLECTORS = ("website", "places", "gbp", "facebook", "instagram")
LLM_KEY = "bench"
LLM_MODEL = "bench-hallucinating-model"

_shared: dict[str, Database] = {}


def _db(server: DatabaseTarget) -> Database:
    """One fresh database per process, shared by the benchmarks of this module."""
    if "db" not in _shared:
        target = database(server, scaled_name("bench_vc"), fresh=True)
        db = open_database(settings(), target=target, master=BENCH_MASTER)
        atexit.register(db.dispose)
        _shared["db"] = db
    return _shared["db"]


@dataclass(frozen=True)
class _Site:
    """A tenant with one location (a tenant has one location per Google place id)."""

    tenant_id: uuid.UUID
    location_id: uuid.UUID

    @property
    def principal(self) -> Principal:
        return Principal(tenant_id=self.tenant_id, role=MembershipRole.OWNER)


def _sites(db: Database, internet: LocalInternet, n: int, label: str) -> list[_Site]:
    """`n` restaurant tenants, each with a location that has every source of `internet`."""
    sites = []
    for i in range(max(1, n)):
        with db.platform_uow() as uow:
            tenant = create_tenant(
                uow,
                slug=f"vc-{label}-{uuid.uuid4().hex[:8]}",
                legal_name=f"VC Bench {label} {i} GmbH",
                vertical=Vertical.RESTAURANT,
                legal_form=LegalForm.GMBH,
            )
            loc = Location(
                tenant_id=tenant.id,
                id=uow.ids(),
                name=f"Bench Bistro {i}",
                slug="bistro",
                vertical=Vertical.RESTAURANT,
                city="Berlin",
            )
            uow.session.add(loc)
            uow.commit()
            site = _Site(tenant.id, loc.id)
        internet.provision(db, site.tenant_id, site.location_id)
        sites.append(site)
    return sites


def _check(db: Database, runner: CheckRunner, site: _Site) -> tuple[Outcome, float]:
    """One check from request to completion; its outcome and wall seconds."""
    started = time.perf_counter()
    with db.tenant_uow(site.tenant_id) as uow:
        check_id = request_check(uow, site.principal, str(site.location_id)).id
        uow.commit()
    outcomes = run_pending(runner, tenant_id=site.tenant_id, check_id=check_id)
    seconds = time.perf_counter() - started
    if len(outcomes) != 1 or outcomes[0].status is not VisibilityCheckStatus.COMPLETED:
        raise RuntimeError(f"check {check_id} did not complete: {outcomes}")
    return outcomes[0], seconds


def _checks(
    db: Database, runner: CheckRunner, sites: list[_Site], n: int
) -> tuple[list[Outcome], list[float]]:
    """`n` checks one after another, cycling over the sites."""
    outcomes, seconds = [], []
    for i in range(n):
        outcome, took = _check(db, runner, sites[i % len(sites)])
        outcomes.append(outcome)
        seconds.append(took)
    return outcomes, seconds


# ---------------------------------------------------------------- vc_check_seconds


@dataclass(frozen=True)
class _Fetch:
    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None


def _plan(
    db: Database, site: _Site, check_id: uuid.UUID, internet: LocalInternet
) -> dict[str, list[_Fetch]]:
    """The fetches of a check per collector, in the order the collector made them: the URIs of
    its retrievals, with the key, token or body the collector sends (never stored there)."""
    with db.tenant_uow(site.tenant_id) as uow:
        rows = uow.session.execute(
            sa.select(Retrieval.collector, Retrieval.uri)
            .where(Retrieval.tenant_id == site.tenant_id, Retrieval.visibility_check_id == check_id)
            .order_by(Retrieval.retrieved_at, Retrieval.id)
        ).all()
    nearby = internet.server.requests("/v1/places:searchNearby")
    plan: dict[str, list[_Fetch]] = {}
    for collector, uri in rows:
        if collector == "places" and uri.endswith(":searchNearby"):
            headers = {
                "X-Goog-Api-Key": PLACES_KEY,
                "X-Goog-FieldMask": NEARBY_MASK,
                "Content-Type": "application/json",
            }
            fetch = _Fetch("POST", uri, headers, body=nearby[-1].body)
        elif collector == "places":
            fetch = _Fetch(
                "GET", uri, {"X-Goog-Api-Key": PLACES_KEY, "X-Goog-FieldMask": DETAILS_MASK}
            )
        elif collector == "gbp":
            fetch = _Fetch("GET", uri, {"Authorization": f"Bearer {GOOGLE_TOKEN}"})
        elif collector in ("facebook", "instagram"):
            fetch = _Fetch("GET", uri, params={"access_token": META_TOKEN})
        else:
            fetch = _Fetch("GET", uri)
        plan.setdefault(collector, []).append(fetch)
    if set(plan) != set(COLLECTORS):
        raise RuntimeError(f"not every collector fetched: {sorted(plan)}")
    return plan


def _fetch_in_sequence(client: httpx.Client, fetches: list[_Fetch]) -> None:
    for f in fetches:
        response = client.request(
            f.method, f.url, headers=f.headers, params=f.params or None, content=f.body
        )
        response.read()
        if response.status_code != 200:
            raise RuntimeError(f"bare fetch answered HTTP {response.status_code}")


def _bare(plan: dict[str, list[_Fetch]], clients: dict[str, httpx.Client]) -> float:
    """Seconds of one round of the bare fetches: a thread per collector, as the runner has."""
    started = time.perf_counter()
    with ThreadPoolExecutor(len(plan), thread_name_prefix="bench-bare") as pool:
        futures = [pool.submit(_fetch_in_sequence, clients[c], f) for c, f in plan.items()]
    for future in futures:
        future.result()
    return time.perf_counter() - started


@dataclass
class _TimedRunner(CheckRunner):
    """The runner, timing its phases: collect (the collectors' fetches through the guarded
    fetcher), record (the ledger's transaction), analyse, publish (its transaction)."""

    phases: dict[str, list[float]] = field(default_factory=dict)

    @classmethod
    def of(cls, runner: CheckRunner) -> _TimedRunner:
        return cls(runner.db, runner.collectors, runner.fetcher, runner.analyser, runner.fallback)

    @contextmanager
    def _timed(self, phase: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.phases.setdefault(phase, []).append(time.perf_counter() - started)

    def collect(self, target: Target) -> tuple[list[Collected], list[dict[str, str]]]:
        with self._timed("collect"):
            return super().collect(target)

    def _record(self, *args: Any, **kwargs: Any) -> list[EvidenceItem]:
        with self._timed("record"):
            return super()._record(*args, **kwargs)

    def _analyse(self, *args: Any, **kwargs: Any) -> list[AnalysisOutput]:
        with self._timed("analyse"):
            return super()._analyse(*args, **kwargs)

    def _publish(self, *args: Any, **kwargs: Any) -> Outcome:
        with self._timed("publish"):
            return super()._publish(*args, **kwargs)


def check_seconds(server: DatabaseTarget) -> Result:
    checks = knob("BENCH_VC_CHECKS", 100, 5)
    locations = knob("BENCH_VC_LOCATIONS", 10, 3)
    latency_ms = fknob("BENCH_VC_LATENCY_MS", 50.0, 50.0)
    db = _db(server)
    with local_internet(latency=latency_ms / 1000) as internet, ExitStack() as stack:
        local = internet.settings(settings())
        runner = _TimedRunner.of(build_runner(db, local))
        sites = _sites(db, internet, locations, "seconds")
        # The first check shows what a check fetches; it and one bare round warm both up.
        first, _ = _check(db, runner, sites[0])
        if first.failures:
            raise RuntimeError(f"a source failed in the first check: {first.failures[:2]}")
        plan = _plan(db, sites[0], first.check_id, internet)
        timeout = local.collect_timeout_seconds
        clients = {c: stack.enter_context(httpx.Client(timeout=timeout)) for c in plan}
        _bare(plan, clients)
        runner.phases.clear()
        durations, bare, published = [], [], []
        for i in range(checks):
            site = sites[(i + 1) % len(sites)]
            if i % 2:  # interleaved, alternating which goes first
                bare.append(_bare(plan, clients))
                outcome, took = _check(db, runner, site)
            else:
                outcome, took = _check(db, runner, site)
                bare.append(_bare(plan, clients))
            if outcome.failures:
                raise RuntimeError(f"a source failed: {outcome.failures[:2]}")
            durations.append(took)
            published.append(outcome.published)
    with db.platform_uow() as uow:
        processing = [
            float(ms) / 1000
            for ms in uow.session.scalars(
                sa.select(VisibilityCheck.processing_time_ms).where(
                    VisibilityCheck.tenant_id.in_([s.tenant_id for s in sites]),
                    VisibilityCheck.id != first.check_id,
                )
            )
            if ms is not None
        ]
    p95, p95_bare = percentile(durations, 0.95), percentile(bare, 0.95)
    return Result(
        name="vc_check_seconds",
        value=round(p95, 4),
        unit="s",
        baseline="bare fetches of the same URLs (httpx, a thread per collector, in sequence)",
        baseline_value=round(p95_bare, 4),
        ratio=round(p95 / p95_bare, 3),
        target="p95 <= 1 s and ratio <= 2",
        params={
            "checks": checks,
            "locations": len(sites),
            "latency_ms": latency_ms,
            "collectors": {name: len(fetches) for name, fetches in plan.items()},
            "fetches_per_check": sum(len(f) for f in plan.values()),
            "p50_s": round(median(durations), 4),
            "p50_baseline_s": round(median(bare), 4),
            "max_s": round(max(durations), 4),
            "runner_processing_p95_s": round(percentile(processing, 0.95), 4),
            "collect_p95_s": round(percentile(runner.phases["collect"], 0.95), 4),
            "phases_p50_s": {k: round(median(v), 4) for k, v in runner.phases.items()},
            "statements_per_check": round(sum(published) / len(published), 2),
            "within_1_s": p95 <= 1.0,
        },
    )


# ---------------------------------------------------------------- evidence_coverage

# Statements and their published state, counted from the rows themselves: a statement is
# backed when at least one evidence row it links to belongs to its own check.
_COVERAGE_SQL = sa.text(
    """
    SELECT count(*) AS statements,
           count(*) FILTER (WHERE EXISTS (
               SELECT 1 FROM insight.statement_evidence se
                 JOIN insight.evidence e ON e.tenant_id = se.tenant_id AND e.id = se.evidence_id
                WHERE se.tenant_id = s.tenant_id AND se.statement_id = s.id
                  AND e.visibility_check_id = s.visibility_check_id)) AS backed,
           count(*) FILTER (WHERE EXISTS (
               SELECT 1 FROM insight.statement_evidence se
                 JOIN insight.evidence e ON e.tenant_id = se.tenant_id AND e.id = se.evidence_id
                WHERE se.tenant_id = s.tenant_id AND se.statement_id = s.id
                  AND e.visibility_check_id IS DISTINCT FROM s.visibility_check_id))
               AS citing_foreign
      FROM insight.statements s
     WHERE s.tenant_id = ANY(:tenants)
    """
)
_RUNS_SQL = sa.text(
    """
    SELECT provider, count(*) AS runs, coalesce(sum(published), 0) AS published,
           coalesce(sum(rejected), 0) AS rejected
      FROM insight.analysis_runs WHERE tenant_id = ANY(:tenants) GROUP BY provider
    """
)


@dataclass
class _Coverage:
    statements: int
    backed: int
    citing_foreign: int
    runs: dict[str, dict[str, int]]
    kpi: float | None
    checks_completed: int

    @property
    def share(self) -> float:
        return self.backed / self.statements if self.statements else 0.0


def _coverage(db: Database, sites: list[_Site]) -> _Coverage:
    """The sites' statements counted in SQL (as the owner, over their tenants); the KPI as
    each tenant's `tenant_kpis` states it, summed over the tenants."""
    tenants = [s.tenant_id for s in sites]
    with db.platform_uow() as uow:
        row = uow.session.execute(_COVERAGE_SQL, {"tenants": tenants}).mappings().one()
        runs = {
            r["provider"]: {k: int(r[k]) for k in ("runs", "published", "rejected")}
            for r in uow.session.execute(_RUNS_SQL, {"tenants": tenants}).mappings()
        }
    published = rejected = completed = 0
    for site in sites:
        with db.tenant_uow(site.tenant_id) as uow:
            kpis = tenant_kpis(uow, datetime.now(UTC))
        published += kpis.statements_published
        rejected += kpis.statements_rejected
        completed += kpis.checks_completed
    kpi = round(published / (published + rejected), 4) if published + rejected else None
    return _Coverage(
        int(row["statements"]), int(row["backed"]), int(row["citing_foreign"]), runs, kpi, completed
    )


def _rules_coverage(db: Database, checks: int, locations: int) -> Result:
    with local_internet() as internet:
        runner = _TimedRunner.of(build_runner(db, internet.settings(settings())))
        sites = _sites(db, internet, locations, "coverage")
        started = time.perf_counter()
        outcomes, seconds = _checks(db, runner, sites, checks)
        elapsed = time.perf_counter() - started
    c = _coverage(db, sites)
    tenth = max(1, checks // 10)  # how a check's time grows with its location's history
    produced = sum(r["published"] + r["rejected"] for r in c.runs.values())
    raw_share = sum(r["published"] for r in c.runs.values()) / produced if produced else 0.0
    return Result(
        name="evidence_coverage",
        value=round(c.share, 4),
        unit="share",
        baseline="share of the analyser's own statements that were backed (its runs' counts)",
        baseline_value=round(raw_share, 4),
        ratio=round(c.share / raw_share, 4) if raw_share else 0.0,
        target="1.0 (every published statement has evidence of its own check)",
        params={
            "checks": checks,
            "checks_completed": c.checks_completed,
            "locations": len(sites),
            "statements": c.statements,
            "statements_with_evidence": c.backed,
            "statements_citing_other_checks": c.citing_foreign,
            "runs": c.runs,
            "kpi_evidence_coverage": c.kpi,
            "sources_failed": sum(len(o.failures) for o in outcomes),
            "check_p50_s": round(median(seconds), 4),
            "check_p50_first_tenth_s": round(median(seconds[:tenth]), 4),
            "check_p50_last_tenth_s": round(median(seconds[-tenth:]), 4),
            "phases_p50_first_tenth_s": {
                k: round(median(v[:tenth]), 4) for k, v in runner.phases.items()
            },
            "phases_p50_last_tenth_s": {
                k: round(median(v[-tenth:]), 4) for k, v in runner.phases.items()
            },
            "seconds": round(elapsed, 1),
        },
    )


# A model that hallucinates: it cites evidence ids from the prompt, but a share of its
# statements cites a made-up id or none at all.

_EVIDENCE_START = re.compile(r'\[\{"id": "')
_SWOT = ("strength", "weakness", "opportunity", "threat")


def _prompt_evidence(prompt: str) -> list[str]:
    """The evidence ids of the rendered prompt (its JSON list of {id, key, ...})."""
    found = _EVIDENCE_START.search(prompt)
    if found is None:
        return []
    items, _ = json.JSONDecoder().raw_decode(prompt, found.start())
    return [str(i["id"]) for i in items if isinstance(i, dict) and "id" in i]


@dataclass
class _Model:
    unbacked_share: float
    rng: random.Random = field(default_factory=lambda: random.Random(18))
    produced: int = 0
    backed: int = 0
    answers: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, prompt: str) -> dict[str, Any]:
        ids = _prompt_evidence(prompt)
        with self.lock:
            statements = [
                self._statement(kind, ids, n)
                for n, kind in enumerate((*_SWOT, "recommendation", "recommendation"))
            ]
            statements.append(self._statement("persona", ids, 6, {"persona": "solo-sarah"}))
            statements.append(self._statement("summary", ids, 7))
            self.answers += 1
        return {"statements": statements}

    def _statement(
        self, kind: str, ids: list[str], n: int, data: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        if kind == "recommendation":
            data = {"title": f"Bench step {n}", "priority": 1 + n % 5, "category": "gbp"}
        if ids and self.rng.random() >= self.unbacked_share:
            cited = self.rng.sample(ids, min(len(ids), self.rng.randint(1, 3)))
            self.backed += 1
        elif self.rng.random() < 0.5:
            cited = [str(uuid.UUID(int=self.rng.getrandbits(128), version=4))]
        else:
            cited = []
        self.produced += 1
        return {
            "kind": kind,
            "text": f"Bench {kind} statement {n} about the listing.",
            "evidence_ids": cited,
            "data": data or {},
        }


@contextmanager
def _chat_server(model: _Model) -> Iterator[str]:
    """An OpenAI-compatible chat-completions endpoint on 127.0.0.1; its base URL."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            if self.path != "/v1/chat/completions":
                return self._reply(404, {"error": {"message": "not found"}})
            if self.headers.get("authorization") != f"Bearer {LLM_KEY}":
                return self._reply(401, {"error": {"message": "invalid api key"}})
            request = json.loads(body)
            prompt = next(m["content"] for m in request["messages"] if m["role"] == "user")
            content = json.dumps(model.answer(prompt))
            self._reply(
                200,
                {
                    "id": f"chatcmpl-{uuid.uuid4().hex[:12]}",
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": LLM_MODEL,
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": content},
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": {
                        "prompt_tokens": len(prompt) // 4,
                        "completion_tokens": len(content) // 4,
                        "total_tokens": (len(prompt) + len(content)) // 4,
                    },
                },
            )

        def _reply(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def _llm_coverage(db: Database, checks: int, locations: int, unbacked: float) -> Result:
    model = _Model(unbacked)
    with local_internet() as internet, _chat_server(model) as url:
        local: Settings = internet.settings(settings()).model_copy(
            update={
                "vc_analyser": "llm",
                "llm_base_url": url,
                "llm_api_key": SecretStr(LLM_KEY),
                "llm_model": LLM_MODEL,
            }
        )
        runner = build_runner(db, local)
        sites = _sites(db, internet, locations, "llm")
        started = time.perf_counter()
        outcomes, seconds = _checks(db, runner, sites, checks)
        elapsed = time.perf_counter() - started
    c = _coverage(db, sites)
    llm = c.runs.get("llm", {"runs": 0, "published": 0, "rejected": 0})
    if llm["runs"] != checks or model.answers != checks:
        raise RuntimeError(f"{llm['runs']} LLM runs and {model.answers} answers for {checks}")
    raw_share = model.backed / model.produced if model.produced else 0.0
    return Result(
        name="evidence_coverage_llm",
        value=round(c.share, 4),
        unit="share",
        baseline="share of the model's raw statements that were backed (published unchecked)",
        baseline_value=round(raw_share, 4),
        ratio=round(c.share / raw_share, 4) if raw_share else 0.0,
        target=">= 0.95 published with evidence; unbacked ones rejected",
        params={
            "checks": checks,
            "locations": len(sites),
            "unbacked_share_asked": unbacked,
            "produced": model.produced,
            "produced_backed": model.backed,
            "rejected": llm["rejected"],
            "unbacked_all_rejected": llm["rejected"] == model.produced - model.backed,
            "published": c.statements,
            "published_with_evidence": c.backed,
            "statements_citing_other_checks": c.citing_foreign,
            "runs": c.runs,
            "kpi_evidence_coverage": c.kpi,
            "sources_failed": sum(len(o.failures) for o in outcomes),
            "check_p50_s": round(median(seconds), 4),
            "seconds": round(elapsed, 1),
        },
    )


def evidence_coverage(server: DatabaseTarget) -> list[Result]:
    locations = knob("BENCH_VC_LOCATIONS", 10, 3)
    db = _db(server)
    return [
        _rules_coverage(db, knob("BENCH_VC_COVERAGE_CHECKS", 1000, 20), locations),
        _llm_coverage(
            db,
            knob("BENCH_VC_LLM_CHECKS", 200, 5),
            locations,
            fknob("BENCH_VC_UNBACKED", 0.1, 0.1),
        ),
    ]
