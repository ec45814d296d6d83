"""Attacks on the decision services (issue 21) below HTTP: each test pins a problem found by
a careful reviewer, and failed before its fix."""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping
from datetime import date

import numpy as np
import sqlalchemy as sa

from tenantry.db.engine import Database
from tenantry.decisions.lead_features import (
    ENGAGEMENT_COLUMNS,
    FEATURES,
    feature_matrix,
    load_leads,
)
from tenantry.decisions.lead_model import fit_logistic, rules_model
from tenantry.models import Subject
from tenantry.services import leads
from tests.conftest import make_tenant


class _Broken:
    """An engagement source whose numbers are not finite (a float column of the lake with a
    0/0 in it, say)."""

    def __init__(self, value: float) -> None:
        self.value = value

    def engagement(
        self, tenant_id: uuid.UUID, wanted: Mapping[str, date]
    ) -> dict[str, dict[str, float]]:
        return {key: dict.fromkeys(ENGAGEMENT_COLUMNS, self.value) for key in wanted}


def test_engagement_that_is_not_a_number_is_missing_not_a_nan_score(db: Database) -> None:
    tenant = make_tenant(db, locations=1)
    with db.tenant_uow(tenant.id) as uow:
        ids = [
            leads.capture_lead(
                uow,
                tenant.principal(),
                location_id=tenant.locations[0],
                source="google",
                email=f"nan-{i}@example.org",
            ).id
            for i in range(4)
        ]
        uow.flush()
        assert all(uow.session.scalars(sa.select(Subject.pseudonym)))
        uow.commit()
    for value in (math.nan, math.inf):
        with db.tenant_uow(tenant.id) as uow:
            x = feature_matrix(uow, load_leads(uow, ids=ids), _Broken(value))
        assert np.isfinite(x).all()
        assert (x[:, FEATURES.index("engagement_missing")] == 1).all()
        # The model learns and the rules score from such a matrix.
        assert np.isfinite(fit_logistic(x, [0, 1, 0, 1]).probabilities(x)).all()
        assert all(math.isfinite(rules_model().explain(row).raw) for row in x)
