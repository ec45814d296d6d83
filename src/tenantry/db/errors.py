"""Translation of database driver errors into the tenantry error tree.

The adapter boundary is the only place that knows SQLSTATE codes. Messages name constraints,
tables and columns, never the offending values: PostgreSQL's own detail text can quote them, and
they may be personal data.
"""

from __future__ import annotations

import re

import psycopg
from sqlalchemy.exc import DBAPIError

from tenantry.errors import (
    ConflictError,
    DatabaseUnavailableError,
    PermissionDeniedError,
    ReferenceNotFoundError,
    TenantryError,
    ValidationError,
)

__all__ = ["translate_db_error", "translate_driver_error"]

_QUOTED = re.compile(r'"[^"]*"|\'[^\']*\'')


def _redact(text: str) -> str:
    return _QUOTED.sub("<value>", text)


def translate_db_error(exc: DBAPIError) -> TenantryError:
    """Map a SQLAlchemy/psycopg error to the matching tenantry error."""
    if _login_refused(exc.orig):
        # The owner's login was checked when the database was prepared, so this is the
        # application role's: its password is the part a user has to supply.
        return DatabaseUnavailableError(
            "PostgreSQL refused the login of tenantry_app: set TENANTRY_APP_PASSWORD "
            "(or TENANTRY_APP_DATABASE_URL)"
        )
    if exc.connection_invalidated:  # SQLAlchemy saw the connection break
        return DatabaseUnavailableError("database unavailable (connection lost)")
    return translate_driver_error(exc.orig)


def _login_refused(orig: BaseException | None) -> bool:
    if not isinstance(orig, psycopg.OperationalError):
        return False
    if getattr(orig, "sqlstate", None) == "28P01":  # invalid password
        return True
    # A refused login ends the connection attempt before any SQLSTATE reaches psycopg.
    text = str(orig)
    return "no password supplied" in text or "password authentication failed" in text


def translate_driver_error(orig: BaseException | None) -> TenantryError:
    """Map a driver (psycopg) error to the matching tenantry error."""
    sqlstate = getattr(orig, "sqlstate", None) or ""
    diag = getattr(orig, "diag", None)
    constraint = getattr(diag, "constraint_name", None) or "unknown"
    table = getattr(diag, "table_name", None)
    column = getattr(diag, "column_name", None)
    primary = _redact(getattr(diag, "message_primary", None) or type(orig).__name__)
    ctx: dict[str, object] = {"sqlstate": sqlstate, "constraint": constraint, "table": table}

    if sqlstate == "23505":
        return ConflictError(f"a record with the same key already exists ({constraint})", **ctx)
    if sqlstate == "23503":
        return ReferenceNotFoundError(
            f"referenced record does not exist in this tenant ({constraint})", **ctx
        )
    if sqlstate == "23514":
        return ValidationError(f"value violates rule {constraint}", **ctx)
    if sqlstate == "23502":
        return ValidationError(f"missing required value: {table}.{column}", **ctx)
    if sqlstate.startswith("22"):
        return ValidationError(f"invalid value: {primary}", **ctx)
    if sqlstate == "42501":
        return PermissionDeniedError(f"not permitted: {primary}", **ctx)
    if sqlstate.startswith("08") or sqlstate in {"57P01", "57P02", "57P03"}:
        return DatabaseUnavailableError(f"database unavailable ({sqlstate})", **ctx)
    if not sqlstate and isinstance(orig, psycopg.OperationalError):
        # Raised by the client, not sent by the server: the connection broke (or never
        # opened), so the server's answer, if any, was lost.
        return DatabaseUnavailableError("database unavailable (connection lost)", **ctx)
    if sqlstate == "57014":
        return TenantryError("statement timed out", **ctx)
    if sqlstate == "40001" or sqlstate == "40P01":
        return ConflictError("concurrent update, retry the operation", **ctx)
    return TenantryError(f"database error {sqlstate or type(orig).__name__}", **ctx)
