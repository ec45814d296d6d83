"""The processing register classifies every column; a new unclassified column fails here."""

from __future__ import annotations

import sqlalchemy as sa

from tenantry.models import Base
from tenantry.privacy import catalog


def test_every_table_and_column_is_classified() -> None:
    assert catalog.unclassified() == []


def test_register_covers_every_column_of_every_table() -> None:
    entries = {(e.table, e.column) for e in catalog.register()}
    expected = {(t.fullname, c.name) for t in Base.metadata.tables.values() for c in t.c}
    assert entries == expected


def test_personal_columns_are_flagged_with_a_personal_category() -> None:
    for entry in catalog.register():
        column = Base.metadata.tables[entry.table].c[entry.column]
        assert entry.personal == ("pii" in column.info)
        if entry.personal:
            assert (
                "data" in entry.category
                or "text" in entry.category
                or "credentials" in entry.category
            )


def test_an_unannotated_free_text_column_would_be_unclassified() -> None:
    table = sa.Table("probe", sa.MetaData(), sa.Column("favourite_colour", sa.String(20)))
    assert catalog._category(table.c.favourite_colour) is None
