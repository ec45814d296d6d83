"""psycopg placeholders become PostgreSQL's numbered ones (`tenantry.db.pipelined.numbered`)."""

from __future__ import annotations

import psycopg
import pytest

from tenantry.db.pipelined import numbered


def test_named_placeholders_are_numbered_in_order_of_first_use() -> None:
    sql, names = numbered("SELECT %(b)s, %(a)s WHERE x = %(b)s", True)
    assert sql == b"SELECT $1, $2 WHERE x = $1"
    assert names == ("b", "a")


def test_positional_placeholders_are_numbered_one_by_one() -> None:
    assert numbered("SELECT %s, %s", False) == (b"SELECT $1, $2", ("", ""))


def test_a_doubled_percent_sign_is_a_literal_one() -> None:
    assert numbered("SELECT 7 %% 3, '%%(x)s'", False) == (b"SELECT 7 % 3, '%(x)s'", ())


def test_no_placeholders_suit_either_kind_of_parameters() -> None:
    assert numbered("SELECT 1", True) == numbered("SELECT 1", False) == (b"SELECT 1", ())


@pytest.mark.parametrize(
    ("sql", "named"), [("SELECT %(a)s", False), ("SELECT %s", True), ("SELECT %s, %(a)s", True)]
)
def test_placeholders_of_the_other_kind_are_refused(sql: str, named: bool) -> None:
    with pytest.raises(psycopg.ProgrammingError):
        numbered(sql, named)
