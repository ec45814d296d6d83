"""Where the inbound channels hand their input to the store.

The Stripe webhook and the IMAP watch reduce what they receive to `Notice`/`Rejected` items
(or raw e-mails) and pass them on through `parse_message` and `record_items`: the e-mail
parsers with the DKIM verifier the settings name, and the batch intake of
`tenantry.payments.intake`.
"""

from __future__ import annotations

from collections.abc import Sequence

from tenantry.config import get_settings
from tenantry.db.uow import UnitOfWork
from tenantry.payments.intake import Outcome, record_notices
from tenantry.payments.matching import Policy
from tenantry.payments.notices import Notice, Rejected
from tenantry.payments.sources import parse_email
from tenantry.payments.trust import DkimVerifier
from tenantry.services.principal import Principal

__all__ = ["Outcome", "parse_message", "record_items"]


def parse_message(raw: bytes, origin: str) -> Sequence[Notice | Rejected]:
    """One raw e-mail as the items it holds, its origin verified against the provider's keys."""
    return [parse_email(raw, verifier=DkimVerifier.from_settings(get_settings()), origin=origin)]


def record_items(
    uow: UnitOfWork, principal: Principal, items: Sequence[Notice | Rejected]
) -> Sequence[Outcome]:
    """Store and match the items in `uow` under the configured policy; never commits."""
    return record_notices(uow, principal, items, policy=Policy.from_settings(get_settings()))
