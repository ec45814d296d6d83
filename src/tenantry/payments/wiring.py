"""Where the inbound channels hand their input to the store: the one seam the intake fills.

The Stripe webhook and the IMAP watch reduce what they receive to `Notice`/`Rejected` items
(or raw e-mails) and pass them on through `parse_message` and `record_items`. Until payment
intake is wired here (`tenantry.payments.sources.parse_email` and
`tenantry.payments.intake.record_notices`) both refuse with `IntakeNotWiredError`, so nothing
is acknowledged that was not stored: Stripe retries, and the watch keeps its cursor.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Protocol

from tenantry.db.uow import UnitOfWork
from tenantry.errors import ConfigurationError
from tenantry.payments.notices import Notice, Rejected
from tenantry.services.principal import Principal

__all__ = ["IntakeNotWiredError", "Outcome", "parse_message", "record_items"]


class IntakeNotWiredError(ConfigurationError):
    """Payment intake (parsing and recording notifications) is not installed."""


class Outcome(Protocol):
    """What the store says of one item (the fields the channels report)."""

    @property
    def origin(self) -> str | None: ...

    @property
    def status(self) -> str: ...  # matched | needs_review | rejected | duplicate

    @property
    def notification_id(self) -> uuid.UUID | None: ...


def parse_message(raw: bytes, origin: str) -> Sequence[Notice | Rejected]:
    """One raw e-mail as the items it holds (wired to `sources.parse_email`)."""
    raise IntakeNotWiredError()


def record_items(
    uow: UnitOfWork, principal: Principal, items: Sequence[Notice | Rejected]
) -> Sequence[Outcome]:
    """Store and match the items in `uow` (wired to `intake.record_notices`); never commits."""
    raise IntakeNotWiredError()
