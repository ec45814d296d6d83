"""Translation of database driver errors into the tenantry error tree.

The adapter boundary is the only place that knows SQLSTATE codes. Messages say in words what
conflicts or which rule was broken (the record kind and its fields, looked up from the
constraint's definition in the models), never the constraint's name and never the offending
values: PostgreSQL's own detail text can quote them, and they may be personal data.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

import psycopg
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.schema import ColumnCollectionConstraint

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
# character_not_in_repertoire, untranslatable_character, invalid escape (\u0000 in JSON).
_UNSTORABLE_STATES = {"22021", "22P05", "22025"}
_UNSTORABLE = "text must not contain NUL characters or unpaired UTF-16 surrogates"


# Rules whose name alone would read poorly, in the words a user understands.
_RULES = {
    "deposit_within_total": "the deposit must not exceed the total",
    "ends_after_start": "the end must be after the start",
    "coordinates_pair": "latitude and longitude must be given together",
    "country_iso2": "the country must be a two-letter ISO code",
    "currency_iso4217": "the currency must be a three-letter ISO code",
    "slug_format": "the slug may hold only lower-case letters, digits and hyphens",
    "vat_id_format": "the VAT id is not well-formed",
    "lost_has_reason": "a lost lead needs a reason",
    "converted_has_customer": "a converted lead needs a customer",
}

# The shapes most rule names take, as sentences about the field they name.
_RULE_SHAPES = (
    ("_non_negative", "{} must not be negative"),
    ("_positive", "{} must be positive"),
    ("_range", "{} is out of range"),
)


@dataclass(frozen=True)
class _Constraint:
    table: str
    columns: tuple[str, ...]
    rule: str | None = None  # a check constraint's own name (without the convention's prefix)
    refers_to: str | None = None  # a foreign key's target table
    choice: bool = False  # the check an enumerated type adds: one of its values


def _redact(text: str) -> str:
    return _QUOTED.sub("<value>", text)


def _singular(table: str | None) -> str:
    name = (table or "record").rsplit(".", 1)[-1]
    if name.endswith("ies"):
        name = name[:-3] + "y"
    elif name.endswith(("sses", "xes")):
        name = name[:-2]
    elif name.endswith("s") and not name.endswith("ss"):
        name = name[:-1]
    return name.replace("_", " ")


@functools.cache
def _constraints() -> dict[str, _Constraint]:
    """Every named constraint and unique index of the models, by name."""
    from tenantry.models import Base  # the models only when an error needs describing

    known: dict[str, _Constraint] = {}
    for table in Base.metadata.tables.values():
        for constraint in table.constraints:
            if not isinstance(constraint.name, str) or not isinstance(
                constraint, ColumnCollectionConstraint
            ):
                continue
            columns = tuple(c.name for c in constraint.columns)
            if isinstance(constraint, sa.ForeignKeyConstraint):
                target = constraint.referred_table.name
                known[constraint.name] = _Constraint(table.name, columns, refers_to=target)
            elif isinstance(constraint, sa.CheckConstraint):
                prefix = f"ck_{table.name}_"
                rule = constraint.name.removeprefix(prefix)
                # SQLAlchemy marks the check it derives from an Enum column as bound to the type.
                choice = bool(getattr(constraint, "_type_bound", False))
                known[constraint.name] = _Constraint(table.name, columns, rule=rule, choice=choice)
            else:
                known[constraint.name] = _Constraint(table.name, columns)
        for index in table.indexes:
            if index.unique and isinstance(index.name, str):
                cols = tuple(c.name for c in index.columns)
                known[index.name] = _Constraint(table.name, cols)
    return known


def _fields(columns: tuple[str, ...]) -> str:
    # The tenant is implied: every record lives in the caller's tenant.
    named = [c for c in columns if c != "tenant_id"] or list(columns)
    return " and ".join(named) if named else "key"


def _duplicate(name: str | None, table: str | None) -> str:
    found = _constraints().get(name or "")
    if found is None:
        return f"a {_singular(table)} with the same key already exists"
    return f"a {_singular(found.table)} with the same {_fields(found.columns)} already exists"


def _missing_reference(name: str | None, table: str | None) -> str:
    found = _constraints().get(name or "")
    if found is None or found.refers_to is None:
        return "a referenced record does not exist in this tenant"
    column = " and ".join(c for c in found.columns if c != "tenant_id") or "a reference"
    return f"{column} names a {_singular(found.refers_to)} that does not exist in this tenant"


def _broken_rule(name: str | None, table: str | None) -> str:
    found = _constraints().get(name or "")
    rule = found.rule if found is not None else None
    short = (table or "").rsplit(".", 1)[-1]
    if found is None and name and short and name.startswith(f"ck_{short}_"):
        rule = name.removeprefix(f"ck_{short}_")  # named by the convention, not in the models
    if found is not None and found.choice:
        field = " and ".join(found.columns) or (rule or "a value").replace("_", " ")
        return f"{field} is not one of the allowed values"
    if rule is None:
        return f"a value of the {_singular(table)} is not allowed"
    if rule in _RULES:
        return _RULES[rule]
    for suffix, sentence in _RULE_SHAPES:
        if rule.endswith(suffix) and len(rule) > len(suffix):
            return sentence.format(rule.removesuffix(suffix).replace("_", " "))
    thing = _singular(found.table if found else table)
    return f"the {thing} breaks the rule '{rule.replace('_', ' ')}'"


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

    if isinstance(orig, UnicodeEncodeError) or (
        not sqlstate and isinstance(orig, psycopg.DataError)
    ):
        # Refused by the client before it was sent: text with NUL, or without a UTF-8 form.
        return ValidationError(_UNSTORABLE, **ctx)
    if sqlstate == "23505":
        return ConflictError(_duplicate(constraint, table), **ctx)
    if sqlstate == "23503":
        return ReferenceNotFoundError(_missing_reference(constraint, table), **ctx)
    if sqlstate == "23514":
        return ValidationError(_broken_rule(constraint, table), **ctx)
    if sqlstate == "23502":
        return ValidationError(f"{column or 'a field'} is required", **ctx)
    if sqlstate in _UNSTORABLE_STATES:
        return ValidationError(_UNSTORABLE, **ctx)
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
