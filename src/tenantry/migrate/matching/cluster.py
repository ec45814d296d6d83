"""Clusters from scored pairs: union-find over the pairs at or above the threshold, strongest
pair first, refusing a union that would put two records of one source without internal
duplicates into one cluster (1-to-1 linkage). Knows nothing of fields or scores' meaning.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence

__all__ = ["clusters"]


def clusters(
    size: int,
    sources: Sequence[str],
    scored: Iterable[tuple[float, int, int]],
    *,
    threshold: float,
    unique_sources: Collection[str] = (),
) -> list[list[int]]:
    """Groups of record indexes (every record in exactly one group, singletons included)."""
    parent = list(range(size))
    # The constrained sources present in each root's cluster.
    held: list[frozenset[str]] = [
        frozenset({s}) if s in unique_sources else frozenset() for s in sources
    ]

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for probability, i, j in sorted(scored, key=lambda t: (-t[0], t[1], t[2])):
        if probability < threshold:
            break
        ri, rj = find(i), find(j)
        if ri == rj or held[ri] & held[rj]:
            continue
        if ri > rj:
            ri, rj = rj, ri
        parent[rj] = ri
        held[ri] = held[ri] | held[rj]
    groups: dict[int, list[int]] = {}
    for i in range(size):
        groups.setdefault(find(i), []).append(i)
    return list(groups.values())
