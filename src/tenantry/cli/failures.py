"""One line for anything that stops a command: what went wrong, in the user's terms.

`describe` knows the failures a user can cause or meet (a tenantry error, an unusable
`TENANTRY_*` setting or `TENANTRY_HOME`, a file that is not UTF-8, an unknown migration
revision, an unreachable PostgreSQL) and names anything else only by its type, since the text
of an unexpected exception can quote personal data or a password.
"""

from __future__ import annotations

import psycopg
import pydantic
from alembic.util import CommandError
from sqlalchemy.exc import DBAPIError

from tenantry.config import settings_error_message
from tenantry.db.errors import translate_db_error, translate_driver_error
from tenantry.db.provider import reason
from tenantry.errors import DatabaseUnavailableError, TenantryError

__all__ = ["describe"]


def _driver_cause(exc: BaseException) -> psycopg.OperationalError | None:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, psycopg.OperationalError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def describe(exc: BaseException) -> str:
    """The one line printed after `tenantry: error: `."""
    if isinstance(exc, DatabaseUnavailableError):
        cause = _driver_cause(exc)
        if cause is not None and exc.message.startswith("cannot connect"):
            # libpq's reason (refused, unknown host, bad password, no such database) names
            # hosts, users and databases, never a value of a row.
            return f"PostgreSQL cannot be reached: {reason(cause)}"
        return exc.message
    if isinstance(exc, TenantryError):
        return exc.message
    if isinstance(exc, pydantic.ValidationError) and exc.title == "Settings":
        return settings_error_message(exc)
    if isinstance(exc, UnicodeDecodeError):
        return f"a file is not UTF-8 text (invalid byte at position {exc.start})"
    if isinstance(exc, FileExistsError | NotADirectoryError) and exc.filename:
        return f"cannot use {exc.filename} as a folder: a file is in the way"
    if isinstance(exc, OSError) and exc.strerror:
        where = f" {exc.filename}" if exc.filename else ""
        return f"cannot use{where}: {exc.strerror}"
    if isinstance(exc, CommandError):
        return f"migrations: {' '.join(str(exc).split())}"
    if isinstance(exc, psycopg.OperationalError) and not exc.sqlstate:
        return f"PostgreSQL cannot be reached: {reason(exc)}"
    if isinstance(exc, DBAPIError):
        return describe(translate_db_error(exc))
    if isinstance(exc, psycopg.Error):
        return translate_driver_error(exc).message
    return f"internal error ({type(exc).__name__}); run with --debug for the traceback"
