"""The IMAP watch's cursors in `commerce.mailbox_cursors`: one row per tenant and mailbox.

`DatabaseCursors` is the `CursorStore` a watch uses: each `save` commits at once (as the
owner, for the tenant it was made for), so the position survives the process.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from tenantry.db.engine import Database
from tenantry.models import MailboxCursor

__all__ = ["DatabaseCursors"]

_ACTOR = "cli:payments-watch"


class DatabaseCursors:
    """A tenant's mailbox cursors, each change committed on its own."""

    def __init__(self, db: Database, tenant_id: uuid.UUID) -> None:
        self.db = db
        self.tenant_id = tenant_id

    def _row(self, session: Session, mailbox: str) -> MailboxCursor | None:
        return session.scalars(
            select(MailboxCursor).where(
                MailboxCursor.tenant_id == self.tenant_id, MailboxCursor.mailbox == mailbox
            )
        ).one_or_none()

    def load(self, mailbox: str) -> tuple[int, int] | None:
        with self.db.platform_uow(actor=_ACTOR, tenant_id=self.tenant_id) as uow:
            row = self._row(uow.session, mailbox)
            return None if row is None else (row.uidvalidity, row.last_uid)

    def save(self, mailbox: str, uidvalidity: int, last_uid: int) -> None:
        with self.db.platform_uow(actor=_ACTOR, tenant_id=self.tenant_id) as uow:
            row = self._row(uow.session, mailbox)
            if row is None:
                row = MailboxCursor(tenant_id=self.tenant_id, id=uow.ids(), mailbox=mailbox)
                uow.session.add(row)
            row.uidvalidity = uidvalidity
            row.last_uid = last_uid
            uow.commit()
