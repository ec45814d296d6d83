"""A page's LIMIT is SQL text, and only ever an integer."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql.psycopg import dialect

from tenantry.db.paging import page_limit


def test_the_limit_is_written_into_the_statement_not_bound() -> None:
    table = sa.table("t", sa.column("id"))
    compiled = (
        sa.select(table)
        .order_by(table.c.id)
        .limit(page_limit(21))
        .compile(
            dialect=dialect()  # type: ignore[no-untyped-call]
        )
    )
    assert str(compiled).endswith("LIMIT 21") and not compiled.params


def test_a_limit_that_is_not_an_integer_is_refused() -> None:
    with pytest.raises(ValueError, match="invalid literal"):
        page_limit("1; DROP TABLE t")  # type: ignore[arg-type]
