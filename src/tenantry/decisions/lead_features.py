"""The features a lead is scored by, as of a moment, for a batch of leads of one tenant.

Each feature is a number; a value that is missing is 0 with an indicator feature set to 1, so a
missing value is information, never an error. Sources (documented in docs/decisions.md):

- `source=<s>`, `persona=<p>`, `persona_missing`: the lead's own columns (one-hot).
- `vc_overall`, `vc_missing`: the overall score (0..100, as 0..1) of the latest completed
  visibility check (`insight.visibility_checks`) of the lead itself, else of its location,
  completed by the moment of scoring.
- `opens_30d`, `clicks_30d`, `steps_30d`, `logins_30d` (log1p), `engagement_missing`: the
  lake's `ml_user_features` row of the lead's data subject, found by the subject's pseudonym
  (the lake's `user_key`): the latest snapshot dated on or before the moment of scoring.
- `log_days_open`: log1p of days since the lead was created; `log_days_quiet`,
  `no_interaction`: log1p of days since its latest interaction.
- `interactions_<kind>` (log1p of counts), from `crm.lead_interactions` up to the moment.
- `log_value`, `value_missing`: log1p of the estimated value in whole currency units.

A decided lead (converted or lost) is described as of its decision, an open one as of now, so
training never sees what happened after an outcome. This module reads; it never writes, and
it handles no names or addresses: pseudonyms only, to look the lake up.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt
import sqlalchemy as sa

from tenantry.db.uow import UnitOfWork
from tenantry.decisions.lake_tables import LakeTables
from tenantry.models import Lead, Subject
from tenantry.models.enums import InteractionKind, LeadSource, LeadStatus, Persona

__all__ = [
    "ENGAGEMENT_COLUMNS",
    "FEATURES",
    "EngagementSource",
    "LakeEngagement",
    "LeadFacts",
    "NoEngagement",
    "feature_matrix",
    "load_leads",
]

ENGAGEMENT_COLUMNS = {
    "opens_30d": "email_opens_30d",
    "clicks_30d": "email_clicks_30d",
    "steps_30d": "steps_completed_30d",
    "logins_30d": "login_count_30d",
}
FEATURES: tuple[str, ...] = (
    *(f"source={s.value}" for s in LeadSource),
    *(f"persona={p.value}" for p in Persona),
    "persona_missing",
    "vc_overall",
    "vc_missing",
    *ENGAGEMENT_COLUMNS,
    "engagement_missing",
    "log_days_open",
    "log_days_quiet",
    "no_interaction",
    *(f"interactions_{k.value}" for k in InteractionKind),
    "log_value",
    "value_missing",
)
_INDEX = {name: i for i, name in enumerate(FEATURES)}
_DAY = 86_400.0


@dataclass(frozen=True, slots=True)
class LeadFacts:
    """What scoring needs of one lead: its columns, its pseudonym and the moment it is seen at."""

    id: uuid.UUID
    location_id: uuid.UUID
    source: str
    persona: str | None
    status: LeadStatus
    created_at: datetime
    estimated_value_cents: int | None
    pseudonym: str | None
    as_of: datetime

    @property
    def won(self) -> bool:
        return self.status is LeadStatus.CONVERTED


Wanted = Collection[tuple[str, date]]  # (pseudonym, date) pairs
Found = dict[tuple[str, date], dict[str, float]]


class EngagementSource(Protocol):
    """Engagement features per (pseudonym, date) wanted: the latest snapshot on or before the
    date (pairs without one are left out). One subject's leads are seen on their own dates."""

    def engagement(self, tenant_id: uuid.UUID, wanted: Wanted) -> Found: ...


class NoEngagement:
    """No lake: every lead's engagement is missing."""

    def engagement(self, tenant_id: uuid.UUID, wanted: Wanted) -> Found:
        return {}


class LakeEngagement:
    """`ml_user_features` of the lake under `home`: the latest snapshot on or before the date
    (`lake_tables.LakeTables.latest`; later snapshot partitions are not read)."""

    def __init__(self, home: Path) -> None:
        self.home = home

    def engagement(self, tenant_id: uuid.UUID, wanted: Wanted) -> Found:
        if not wanted:
            return {}
        columns = tuple(ENGAGEMENT_COLUMNS.values())
        until = max(d for _, d in wanted)
        with LakeTables(self.home, ("ml_user_features",), until=until) as lake:
            found = lake.latest_on("ml_user_features", tenant_id, columns, wanted)
        return {
            key: {name: float(v or 0) for name, v in zip(ENGAGEMENT_COLUMNS, row, strict=True)}
            for key, row in found.items()
        }


def load_leads(
    uow: UnitOfWork,
    *,
    ids: Sequence[uuid.UUID] | None = None,
    decided: bool = False,
    open_only: bool = False,
) -> list[LeadFacts]:
    """The tenant's leads (those ids, the decided ones or the open ones), not deleted."""
    now = uow.clock.now()
    query = (
        sa.select(
            Lead.id,
            Lead.location_id,
            Lead.source,
            Lead.persona,
            Lead.status,
            Lead.created_at,
            Lead.estimated_value_cents,
            Lead.converted_at,
            Lead.lost_at,
            Subject.pseudonym,
        )
        .outerjoin(
            Subject,
            sa.and_(
                Subject.tenant_id == Lead.tenant_id,
                Subject.id == Lead.subject_id,
                Subject.erased_at.is_(None),
            ),
        )
        .where(Lead.tenant_id == uow.require_tenant(), Lead.deleted_at.is_(None))
        .order_by(Lead.id)
    )
    if ids is not None:
        query = query.where(Lead.id.in_(list(ids)))
    if decided:
        query = query.where(Lead.status.in_([LeadStatus.CONVERTED, LeadStatus.LOST]))
    if open_only:
        query = query.where(Lead.status.not_in([LeadStatus.CONVERTED, LeadStatus.LOST]))
    out = []
    for r in uow.session.execute(query):
        decided_at = r.converted_at if r.status is LeadStatus.CONVERTED else r.lost_at
        out.append(
            LeadFacts(
                id=r.id,
                location_id=r.location_id,
                source=str(r.source),
                persona=str(r.persona) if r.persona is not None else None,
                status=r.status,
                created_at=r.created_at,
                estimated_value_cents=r.estimated_value_cents,
                pseudonym=r.pseudonym,
                as_of=decided_at or now,
            )
        )
    return out


_INTERACTIONS = sa.text(
    "SELECT i.lead_id, i.kind, count(*) AS n, max(i.occurred_at) AS last_at"
    " FROM unnest(CAST(:ids AS uuid[]), CAST(:at AS timestamptz[])) AS a(lead_id, as_of)"
    " JOIN crm.lead_interactions i ON i.tenant_id = :t AND i.lead_id = a.lead_id"
    " AND i.occurred_at <= a.as_of GROUP BY i.lead_id, i.kind"
)
# The lead's own check first, then its location's; the latest completed by the moment.
_CHECKS = sa.text(
    "SELECT DISTINCT ON (a.lead_id) a.lead_id, v.overall_score"
    " FROM unnest(CAST(:ids AS uuid[]), CAST(:locs AS uuid[]), CAST(:at AS timestamptz[]))"
    " AS a(lead_id, location_id, as_of)"
    " JOIN insight.visibility_checks v ON v.tenant_id = :t"
    " AND (v.lead_id = a.lead_id OR v.location_id = a.location_id)"
    " AND v.status = 'completed' AND v.overall_score IS NOT NULL AND v.completed_at <= a.as_of"
    " ORDER BY a.lead_id, (v.lead_id IS NOT DISTINCT FROM a.lead_id) DESC, v.completed_at DESC"
)


def _log_days(later: datetime, earlier: datetime) -> float:
    return math.log1p(max((later - earlier).total_seconds(), 0.0) / _DAY)


def feature_matrix(
    uow: UnitOfWork, leads: Sequence[LeadFacts], engagement: EngagementSource
) -> npt.NDArray[np.float64]:
    """One row of `FEATURES` per lead, in the order given."""
    x = np.zeros((len(leads), len(FEATURES)))
    if not leads:
        return x
    tenant = uow.require_tenant()
    ids = [lead.id for lead in leads]
    at = [lead.as_of for lead in leads]
    row = {lead.id: i for i, lead in enumerate(leads)}
    last: dict[uuid.UUID, datetime] = {}
    for r in uow.session.execute(_INTERACTIONS, {"ids": ids, "at": at, "t": tenant}):
        x[row[r.lead_id], _INDEX[f"interactions_{r.kind}"]] = math.log1p(r.n)
        last[r.lead_id] = max(last.get(r.lead_id, r.last_at), r.last_at)
    checks: dict[uuid.UUID, int] = {}
    params = {"ids": ids, "locs": [lead.location_id for lead in leads], "at": at, "t": tenant}
    for r in uow.session.execute(_CHECKS, params):
        checks[r.lead_id] = r.overall_score
    wanted = {(lead.pseudonym, lead.as_of.date()) for lead in leads if lead.pseudonym}
    found = engagement.engagement(tenant, wanted)
    for i, lead in enumerate(leads):
        x[i, _INDEX[f"source={lead.source}"]] = 1.0
        if lead.persona is None:
            x[i, _INDEX["persona_missing"]] = 1.0
        else:
            x[i, _INDEX[f"persona={lead.persona}"]] = 1.0
        if lead.id in checks:
            x[i, _INDEX["vc_overall"]] = checks[lead.id] / 100.0
        else:
            x[i, _INDEX["vc_missing"]] = 1.0
        values = found.get((lead.pseudonym, lead.as_of.date())) if lead.pseudonym else None
        if values is not None and not all(math.isfinite(values[n]) for n in ENGAGEMENT_COLUMNS):
            values = None  # not a number (NaN, infinity) is no measurement: missing
        if values is None:
            x[i, _INDEX["engagement_missing"]] = 1.0
        else:
            for name in ENGAGEMENT_COLUMNS:
                x[i, _INDEX[name]] = math.log1p(max(values[name], 0.0))
        x[i, _INDEX["log_days_open"]] = _log_days(lead.as_of, lead.created_at)
        if lead.id in last:
            x[i, _INDEX["log_days_quiet"]] = _log_days(lead.as_of, last[lead.id])
        else:
            x[i, _INDEX["no_interaction"]] = 1.0
        if lead.estimated_value_cents is None:
            x[i, _INDEX["value_missing"]] = 1.0
        else:
            x[i, _INDEX["log_value"]] = math.log1p(lead.estimated_value_cents / 100.0)
    return x
