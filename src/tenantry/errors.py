"""The tenantry error tree.

Every error the system raises on purpose derives from `TenantryError`. Domain and service code
raise these; the database adapter translates driver errors into them; entrypoints (CLI, API)
map them to exit codes and problem documents in one place each. An error's docstring is its
default message. Messages never contain personal data.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime

__all__ = [
    "AuditTrailBrokenError",
    "AuthenticationError",
    "CapacityExceededError",
    "ConfigurationError",
    "ConflictError",
    "DatabaseUnavailableError",
    "IdempotencyKeyReusedError",
    "IllegalTransitionError",
    "NotFoundError",
    "PermissionDeniedError",
    "PreconditionFailedError",
    "RateLimitedError",
    "ReferenceNotFoundError",
    "RetentionDutyError",
    "SlotTakenError",
    "TenantNotBoundError",
    "TenantryError",
    "ValidationError",
    "plain_message",
]

# What pydantic puts before the message of an error a validator raised.
_VALIDATOR_PREFIXES = ("Value error, ", "Assertion failed, ")


def plain_message(message: str) -> str:
    """A validation message as a user reads it: without pydantic's "Value error, " prefix."""
    for prefix in _VALIDATOR_PREFIXES:
        if message.startswith(prefix):
            return message[len(prefix) :]
    return message


class TenantryError(Exception):
    """Something went wrong in tenantry."""

    def __init__(self, message: str | None = None, **context: object) -> None:
        self.message = message or (self.__doc__ or "").strip().splitlines()[0]
        self.context = context
        super().__init__(self.message)

    def extensions(self) -> dict[str, object]:
        """Members a problem document carries besides its message (JSON values, no PII)."""
        return {}


class ConfigurationError(TenantryError):
    """The configuration is invalid or incomplete."""


class DatabaseUnavailableError(TenantryError):
    """The database cannot be reached."""


class ValidationError(TenantryError):
    """The input is invalid."""


class NotFoundError(TenantryError):
    """The requested record does not exist in this tenant."""


class ConflictError(TenantryError):
    """The record conflicts with an existing one."""


class PreconditionFailedError(TenantryError):
    """The record changed since it was read: read it again and retry with its new ETag."""


class RetentionDutyError(ConflictError):
    """A retention duty forbids deleting this record yet."""

    def __init__(self, message: str | None = None, *, retained_until: date | None) -> None:
        super().__init__(message, retained_until=retained_until)
        self.retained_until = retained_until

    def extensions(self) -> dict[str, object]:
        until = self.retained_until
        return {"retained_until": until.isoformat() if until is not None else None}


class IdempotencyKeyReusedError(ValidationError):
    """This Idempotency-Key was already used with a different request."""


class ReferenceNotFoundError(ValidationError):
    """A referenced record does not exist in this tenant."""


class IllegalTransitionError(ConflictError):
    """This state transition is not allowed."""


class PermissionDeniedError(TenantryError):
    """The principal may not do this."""


class TenantNotBoundError(PermissionDeniedError):
    """No tenant is bound to this unit of work."""


class AuditTrailBrokenError(TenantryError):
    """The audit trail failed verification."""


class AuthenticationError(TenantryError):
    """The credentials are missing, invalid, revoked or expired."""


class RateLimitedError(TenantryError):
    """Too many requests; retry later."""

    def __init__(self, message: str | None = None, *, retry_after: int = 1) -> None:
        super().__init__(message, retry_after=retry_after)
        self.retry_after = retry_after


class SlotTakenError(ConflictError):
    """The resources this time needs are already booked."""

    def __init__(
        self, message: str | None = None, *, next_free_slots: Sequence[datetime] = ()
    ) -> None:
        super().__init__(message)
        self.next_free_slots = tuple(next_free_slots)

    def extensions(self) -> dict[str, object]:
        # As the API writes times elsewhere: UTC with a "Z".
        starts = [
            s.astimezone(UTC).isoformat().replace("+00:00", "Z") for s in self.next_free_slots
        ]
        return {"next_free_slots": starts}


class CapacityExceededError(ConflictError):
    """The day's capacity for this location is used up."""
