"""Entity resolution (placeholder until the scored engine lands): exact normalised matches.

Two records match when they agree on a normalised name and on a place id, phone or postal code.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass

__all__ = ["Comparison", "Record", "resolve_clusters"]


@dataclass(frozen=True)
class Record:
    key: Hashable
    source: str
    fields: Mapping[str, str | None]


@dataclass(frozen=True)
class Comparison:
    fields: tuple[str, ...]
    one_to_one: bool = False


def _norm(value: str | None) -> str:
    if not value:
        return ""
    text = unicodedata.normalize("NFKD", value.replace("ß", "ss")).encode("ascii", "ignore")
    return re.sub(r"[^a-z0-9]", "", text.decode().lower())


def resolve_clusters(
    records: Sequence[Record], comparison: Comparison, *, threshold: float = 0.9
) -> list[list[Hashable]]:
    parent: dict[Hashable, Hashable] = {r.key: r.key for r in records}

    def find(x: Hashable) -> Hashable:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    seen: dict[tuple[str, str], Hashable] = {}
    for r in records:
        name = _norm(r.fields.get("name"))
        for f in ("google_place_id", "place_id", "phone", "postal_code", "email"):
            other = _norm(r.fields.get(f))
            if not other:
                continue
            block = (name if f in ("postal_code", "phone") else "", f + ":" + other)
            if block in seen:
                parent[find(r.key)] = find(seen[block])
            else:
                seen[block] = r.key
    groups: dict[Hashable, list[Hashable]] = {}
    for r in records:
        groups.setdefault(find(r.key), []).append(r.key)
    return list(groups.values())
