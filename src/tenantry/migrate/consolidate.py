"""Consolidation: source rows that describe the same thing become one canonical record.

`cluster` groups the prepared rows of a consolidation group (one tenant at a time) with the
entity-resolution engine (`resolve`), `survive` picks each column's value by the group's
survivorship rules and records which source row supplied it (the lineage), and `unmerge`
takes one source row back out of a record. The loader and `tenantry migrate unmerge` use
these; nothing here reads the source.
"""

from __future__ import annotations

import uuid
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg

from tenantry.migrate.mapping import Consolidation, Entity
from tenantry.migrate.resolve import Record, business_comparison, person_comparison, resolve

__all__ = ["Member", "Survivor", "cluster", "copy_lineage", "survive"]

# (entity name, source key, canonical values)
Member = tuple[str, str, dict[str, Any]]


@dataclass
class Survivor:
    values: dict[str, Any]
    lineage: dict[str, tuple[str, str]] = field(default_factory=dict)  # column -> (entity, key)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


# Canonical columns -> the engine's field names, per kind of record.
_BUSINESS = {
    "name": "name",
    "street": "street",
    "house_number": "house_number",
    "postal_code": "postal_code",
    "city": "city",
    "phone": "phone",
    "email": "email",
    "website": "website",
    "google_place_id": "place_id",
}
_PERSON = {
    "first_name": "given_name",
    "last_name": "surname",
    "email": "email",
    "phone": "phone",
    "postal_code": "postal_code",
}


def cluster(
    members: Sequence[Member],
    group: Consolidation,
    tenants: Sequence[Hashable],
    region: str = "DE",
) -> list[list[int]]:
    """Clusters of member indexes (each becomes one canonical record; first = primary).

    Businesses and people are matched by the scored model of `resolve` (fitted without labels
    over all tenants' rows at once, so a tenant with two rows still gets a sound model); other
    records (bookings) by equal values of every compared column. A cluster never spans
    tenants. Within a cluster the entity listed first in the group comes first.
    """
    order = {name: i for i, name in enumerate(group.entities)}
    unique = frozenset(group.entities) if group.one_to_one else frozenset()
    fields = _BUSINESS if group.target == "identity.locations" else _PERSON
    found: list[list[int]]
    if group.target in ("identity.locations", "crm.customers", "crm.leads"):
        records = [
            Record(
                key=i,
                source=entity,
                fields={fields[c]: _text(values.get(c)) for c in group.compare if c in fields},
            )
            for i, (entity, _key, values) in enumerate(members)
        ]
        comparison = (
            business_comparison(region, unique_sources=unique, threshold=group.threshold)
            if group.target == "identity.locations"
            else person_comparison(region, unique_sources=unique, threshold=group.threshold)
        )
        found = [[int(k) for k in c] for c in resolve(records, comparison).clusters]  # type: ignore[call-overload]
    else:
        by_value: dict[tuple[Hashable, ...], list[int]] = {}
        for i, (_entity, _key, values) in enumerate(members):
            signature = tuple(_text(values.get(c)) for c in group.compare)
            if any(v is None for v in signature):
                by_value[("__alone__", i)] = [i]
            else:
                by_value.setdefault((tenants[i], *signature), []).append(i)
        found = list(by_value.values())
    out: list[list[int]] = []
    for members_idx in found:
        split: dict[Hashable, list[int]] = {}
        for i in members_idx:
            split.setdefault(tenants[i], []).append(i)
        for part in split.values():
            out.append(sorted(part, key=lambda i: (order.get(members[i][0], 99), i)))
    return sorted(out, key=lambda c: c[0])


def _newest(values: dict[str, Any]) -> Any:
    stamp = values.get("updated_at") or values.get("created_at")
    return stamp if isinstance(stamp, datetime) else datetime.min.replace(tzinfo=None)


def survive(
    members: Sequence[Member], group: Consolidation, entities: Sequence[Entity]
) -> Survivor:
    """The merged values of one cluster and, per column, the member that supplied it."""
    columns: list[str] = []
    for _entity, _key, values in members:
        columns.extend(c for c in values if c not in columns)
    out = Survivor({})
    for column in columns:
        rule = group.survivorship.get(column, group.survivorship.get("default", "most_complete"))
        candidates = [
            (m[0], m[1], m[2][column])
            for m in members
            if m[2].get(column) not in (None, "", [], {})
        ]
        if not candidates:
            continue
        if rule == "longest":
            pick = max(candidates, key=lambda c: len(str(c[2])))
        elif rule == "newest":
            pick = max(
                candidates,
                key=lambda c: _sortable(
                    _newest(next(m[2] for m in members if m[1] == c[1] and m[0] == c[0]))
                ),
            )
        else:  # first_non_null and most_complete: the primary's value when it has one
            pick = candidates[0]
        out.values[column] = pick[2]
        out.lineage[column] = (pick[0], pick[1])
    return out


def _sortable(value: datetime) -> float:
    try:
        return value.timestamp()
    except (OverflowError, ValueError, OSError):
        return 0.0


def copy_lineage(
    conn: psycopg.Connection,
    run: str,
    table: str,
    rows: Sequence[tuple[uuid.UUID, str, str, str]],
) -> None:
    """(canonical id, column, entity, source key) rows into `migrate.lineage`."""
    if not rows:
        return
    with conn.cursor().copy(
        "COPY migrate.lineage (run, canonical_table, canonical_id, column_name, entity,"
        " source_key) FROM STDIN"
    ) as copy:
        for canonical_id, column, entity, key in rows:
            copy.write_row((run, table, canonical_id, column, entity, key))
