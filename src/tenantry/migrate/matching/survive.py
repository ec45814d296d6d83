"""Survivorship: the values of a merged record, chosen per column from the cluster's records by
a rule, with the lineage of each value (the key of the record that supplied it). Rules:
`most_complete` (the record with the most values), `newest` (latest `updated_at`), `longest`,
`first_non_null` (in source priority order). Never invents or combines values.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal, Protocol

__all__ = ["Rule", "Survivor", "Survivorship", "survive"]

Rule = Literal["most_complete", "newest", "longest", "first_non_null"]
RULES: tuple[Rule, ...] = ("most_complete", "newest", "longest", "first_non_null")


class _Record(Protocol):
    @property
    def key(self) -> Hashable: ...
    @property
    def source(self) -> str: ...
    @property
    def fields(self) -> Mapping[str, str | None]: ...


@dataclass(frozen=True)
class Survivorship:
    """Per-column rules (`default` for the others), the source order `first_non_null` and ties
    follow, and the column `newest` reads."""

    rules: Mapping[str, Rule] = field(default_factory=dict)
    default: Rule = "most_complete"
    source_priority: tuple[str, ...] = ()
    updated_at: str = "updated_at"

    def __post_init__(self) -> None:
        for column, rule in [*self.rules.items(), ("(default)", self.default)]:
            if rule not in RULES:
                raise ValueError(f"unknown survivorship rule {rule!r} for column {column}")


@dataclass(frozen=True)
class Survivor:
    values: dict[str, str | None]
    lineage: dict[str, Hashable | None]  # column -> key of the record that supplied the value


def _present(value: str | None) -> bool:
    return value is not None and value.strip() != ""


def _when(record: _Record, column: str) -> datetime:
    raw = record.fields.get(column)
    try:
        moment = datetime.fromisoformat(raw.strip()) if raw else datetime.min
    except ValueError:
        return datetime.min
    # Naive times are taken as UTC, so aware and naive values order together.
    return moment if moment.tzinfo is None else moment.astimezone(UTC).replace(tzinfo=None)


def survive(records: Sequence[_Record], policy: Survivorship = Survivorship()) -> Survivor:
    """The merged values of one cluster and where each came from."""
    if not records:
        raise ValueError("a cluster has at least one record")
    rank = {source: i for i, source in enumerate(policy.source_priority)}
    order = {id(r): i for i, r in enumerate(records)}

    def priority(r: _Record) -> tuple[int, int]:
        return rank.get(r.source, len(rank)), order[id(r)]

    def completeness(r: _Record) -> int:
        return sum(_present(v) for v in r.fields.values())

    columns = list(dict.fromkeys(c for r in records for c in r.fields))
    values: dict[str, str | None] = {}
    lineage: dict[str, Hashable | None] = {}
    for column in columns:
        holders = [r for r in records if _present(r.fields.get(column))]
        if not holders:
            values[column], lineage[column] = None, None
            continue
        rule = policy.rules.get(column, policy.default)
        if rule == "most_complete":
            best = min(holders, key=lambda r: (-completeness(r), priority(r)))
        elif rule == "newest":
            best = min(holders, key=lambda r: (_neg(_when(r, policy.updated_at)), priority(r)))
        elif rule == "longest":
            best = min(holders, key=lambda r: (-len(r.fields[column] or ""), priority(r)))
        else:
            best = min(holders, key=priority)
        values[column], lineage[column] = best.fields[column], best.key
    return Survivor(values, lineage)


def _neg(moment: datetime) -> float:
    return -(moment - datetime.min).total_seconds()
