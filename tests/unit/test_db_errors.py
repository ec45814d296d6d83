"""Driver errors become tenantry errors at the adapter boundary; a lost connection is one."""

from __future__ import annotations

import psycopg

from tenantry.db.errors import translate_driver_error
from tenantry.errors import DatabaseUnavailableError, TenantryError


def test_a_connection_the_client_saw_break_is_unavailable_not_a_generic_error() -> None:
    # What psycopg raises when the server goes away mid-statement: no SQLSTATE, since the
    # server never answered.
    lost = psycopg.OperationalError("consuming input failed: server closed the connection")
    assert isinstance(translate_driver_error(lost), DatabaseUnavailableError)


def test_an_unknown_error_without_a_sqlstate_stays_generic() -> None:
    error = translate_driver_error(psycopg.ProgrammingError("something else"))
    assert type(error) is TenantryError
