"""Driver errors become tenantry errors at the adapter boundary; a lost connection is one."""

from __future__ import annotations

import psycopg

from tenantry.db.errors import translate_driver_error
from tenantry.errors import (
    ConflictError,
    DatabaseUnavailableError,
    ReferenceNotFoundError,
    TenantryError,
    ValidationError,
)


def test_a_connection_the_client_saw_break_is_unavailable_not_a_generic_error() -> None:
    # What psycopg raises when the server goes away mid-statement: no SQLSTATE, since the
    # server never answered.
    lost = psycopg.OperationalError("consuming input failed: server closed the connection")
    assert isinstance(translate_driver_error(lost), DatabaseUnavailableError)


def test_an_unknown_error_without_a_sqlstate_stays_generic() -> None:
    error = translate_driver_error(psycopg.ProgrammingError("something else"))
    assert type(error) is TenantryError


class _Diag:
    def __init__(self, constraint: str | None = None, table: str | None = None) -> None:
        self.constraint_name = constraint
        self.table_name = table
        self.column_name = None
        self.message_primary = "duplicate key value violates unique constraint"


class _ServerError(Exception):
    def __init__(self, sqlstate: str, constraint: str | None, table: str | None) -> None:
        super().__init__(sqlstate)
        self.sqlstate = sqlstate
        self.diag = _Diag(constraint, table)


def test_messages_say_what_conflicts_in_words_never_the_constraint_name() -> None:
    cases = {
        ("23505", "uq_locations_tenant_id_slug", "locations"): (
            ConflictError,
            "a location with the same slug already exists",
        ),
        ("23503", "fk_bookings_tenant_id_customer_id_customers", "bookings"): (
            ReferenceNotFoundError,
            "customer_id names a customer that does not exist in this tenant",
        ),
        ("23514", "ck_bookings_deposit_within_total", "bookings"): (
            ValidationError,
            "the deposit must not exceed the total",
        ),
        ("23514", "ck_leads_lead_source", "leads"): (
            ValidationError,
            "source is not one of the allowed values",
        ),
        ("23514", "ck_vehicles_mileage_non_negative", "vehicles"): (
            ValidationError,
            "mileage must not be negative",
        ),
    }
    for (sqlstate, constraint, table), (kind, message) in cases.items():
        error = translate_driver_error(_ServerError(sqlstate, constraint, table))
        assert isinstance(error, kind)
        assert error.message == message
        assert constraint not in error.message


def test_an_unknown_constraint_still_reads_as_a_sentence() -> None:
    error = translate_driver_error(_ServerError("23505", "uq_gone_a_b", "gone_things"))
    assert error.message == "a gone thing with the same key already exists"
    error = translate_driver_error(_ServerError("23514", "ck_vehicles_seen_order", "vehicles"))
    assert error.message == "the vehicle breaks the rule 'seen order'"


def test_text_the_database_cannot_store_is_invalid_input_not_an_internal_error() -> None:
    refused_by_client = psycopg.DataError("PostgreSQL text fields cannot contain NUL (0x00) bytes")
    not_encodable = UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates not allowed")
    for orig in (
        refused_by_client,
        not_encodable,
        _ServerError("22P05", None, None),
        _ServerError("22021", None, None),
    ):
        error = translate_driver_error(orig)
        assert type(error) is ValidationError
        assert "NUL" in error.message
