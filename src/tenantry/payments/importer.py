"""Import a stream of notices in batches, one transaction each: what `tenantry payments import`
and the benchmarks run.

Each batch of up to `batch` notices is decided as a whole (one-to-one across the batch) and
committed on its own, so a long import holds no lock for long and a failure loses at most the
batch in progress (a re-run recognises what was recorded as duplicates). The open bookings are
read once per import and the ones a batch paid read again after it; what others record
meanwhile is caught by the ledger, which refuses an overpayment under the booking's lock (the
notice then goes to review).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from itertools import islice

from tenantry.db.engine import Database
from tenantry.models.enums import MembershipRole
from tenantry.payments.book import OpenBook
from tenantry.payments.intake import Outcome, record_notices
from tenantry.payments.matching import Policy
from tenantry.payments.notices import Notice, Rejected
from tenantry.services.principal import Principal

__all__ = ["BATCH", "import_notices"]

BATCH = 5000


def import_notices(
    db: Database,
    tenant_id: uuid.UUID,
    items: Iterable[Notice | Rejected],
    *,
    policy: Policy,
    principal: Principal | None = None,
    dry_run: bool = False,
    batch: int = BATCH,
    actor: str = "payments:import",
) -> Iterator[Outcome]:
    """Record the items batch by batch (rolled back instead with `dry_run`)."""
    who = principal or Principal(tenant_id=tenant_id, role=MembershipRole.OWNER)
    stream = iter(items)
    book: OpenBook | None = None
    while chunk := list(islice(stream, batch)):
        with db.tenant_uow(tenant_id, actor=actor) as uow:
            if book is None:
                book = OpenBook.load(uow)
            outcomes = record_notices(uow, who, chunk, policy=policy, book=book)
            if not dry_run:
                uow.commit()
        paid = {o.booking_id for o in outcomes if o.booking_id and o.status == "matched"}
        if paid and not dry_run:
            with db.tenant_uow(tenant_id, actor=actor) as uow:
                book.refresh(uow, paid)
        yield from outcomes
