"""The LIMIT of a keyset page, written into the statement instead of sent as a parameter.

For `LIMIT $1` PostgreSQL cannot know the number and assumes a tenth of the matching rows.
A prepared statement's generic plan is then costed for that many rows, which always looks
worse than a plan made for the actual values, so PostgreSQL plans every execution anew: for
a page of 20 leads that was half of the database's work. With the number in the statement
text the generic plan is costed like the custom one and PostgreSQL keeps it. Page sizes are
few and bounded, so this adds few statements to the caches. This module must not take a
value that is not an integer (`int()` makes sure of it).
"""

from __future__ import annotations

import sqlalchemy as sa

__all__ = ["page_limit"]


def page_limit(rows: int) -> sa.ColumnElement[int]:
    """`LIMIT rows` as SQL text, for `Select.limit`."""
    return sa.literal_column(str(int(rows)), sa.Integer())
