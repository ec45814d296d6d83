"""Candidate pairs: records that share a value of at least one blocking key. A key is a list of
parts `field:how` (`how`: exact, prefixN, phonetic, tokens, digitsN, phone, postal); the
candidates are the union over all keys. Blocks larger than `max_block` are skipped (a value so
common says nothing) and counted, so the cost stays bounded. Decides nothing about matching.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from itertools import product

from tenantry.errors import ValidationError
from tenantry.migrate.matching import normalize

__all__ = ["BlockingKey", "candidate_pairs"]

Fields = dict[str, str | None]


@dataclass(frozen=True)
class BlockingKey:
    """Records share this key when every part agrees, e.g. `BlockingKey("surname:phonetic",
    "date_of_birth")` or `BlockingKey("name:tokens", "postal_code")`."""

    parts: tuple[str, ...]

    def __init__(self, *parts: str) -> None:
        if not parts:
            raise ValidationError("a blocking key needs at least one field")
        for part in parts:
            _transform(part.partition(":")[2] or "exact", "DE")  # refuses an unknown transform
        object.__setattr__(self, "parts", tuple(parts))

    def values(self, fields: Fields, region: str) -> list[str]:
        """The key values of one record (several when a part yields tokens; none if a part is
        missing)."""
        return self.extractor(region)(fields)

    def extractor(self, region: str) -> Callable[[Fields], list[str]]:
        """`values` with the parts parsed once, for many records."""
        parts = []
        for part in self.parts:
            name, _, how = part.partition(":")
            parts.append((name, _transform(how or "exact", region)))

        def extract(fields: Fields) -> list[str]:
            choices: list[list[str]] = []
            for name, transform in parts:
                found = transform(fields.get(name))
                if not found:
                    return []
                choices.append(found)
            if len(choices) == 1:
                return choices[0]
            return ["\x1f".join(combo) for combo in product(*choices)]

        return extract


def _transform(how: str, region: str) -> Callable[[str | None], list[str]]:
    def one(value: str) -> list[str]:
        return [value] if value else []

    if how == "exact":
        return lambda v: one(normalize.fold(v))
    if how.startswith("prefix") and how.removeprefix("prefix").isdigit():
        n = int(how.removeprefix("prefix"))
        return lambda v: one(normalize.fold(v).replace(" ", "")[:n])
    if how == "phonetic":
        return lambda v: one(" ".join(normalize.soundex(w) for w in normalize.fold(v).split()))
    if how == "tokens":
        return lambda v: sorted(
            {w for w in normalize.name_tokens(v, normalize.BUSINESS_STOPWORDS) if len(w) > 1}
        )
    if how.startswith("digits") and how.removeprefix("digits").isdigit():
        n = int(how.removeprefix("digits"))
        return lambda v: one(d[-n:] if len(d := normalize.digits(v)) >= n else "")
    if how == "phone":
        return lambda v: one(normalize.phone(v, region))
    if how == "postal":
        return lambda v: one(normalize.postal(v))
    raise ValidationError(f"unknown blocking transform {how!r}")


@dataclass
class Blocks:
    pairs: set[tuple[int, int]]
    skipped_blocks: int


def candidate_pairs(
    records: Sequence[tuple[str, Fields]],
    keys: Sequence[BlockingKey],
    *,
    region: str,
    max_block: int,
    excluded: Callable[[str, str], bool],
) -> Blocks:
    """Index pairs (i < j) of records sharing a key value; `excluded(source_a, source_b)`
    says a pair of these two sources is never a candidate (a source without duplicates)."""
    pairs: set[tuple[int, int]] = set()
    skipped = 0
    for key in keys:
        blocks: dict[str, list[int]] = defaultdict(list)
        extract = key.extractor(region)
        for i, (_, fields) in enumerate(records):
            for value in extract(fields):
                blocks[value].append(i)
        for members in blocks.values():
            if len(members) < 2:
                continue
            if len(members) > max_block:
                skipped += 1
                continue
            pairs.update(_pairs(members, records, excluded))
    return Blocks(pairs, skipped)


def _pairs(
    members: list[int],
    records: Sequence[tuple[str, Fields]],
    excluded: Callable[[str, str], bool],
) -> Iterator[tuple[int, int]]:
    for x, i in enumerate(members):
        source_i = records[i][0]
        for j in members[x + 1 :]:
            if i != j and not excluded(source_i, records[j][0]):
                yield (i, j) if i < j else (j, i)
