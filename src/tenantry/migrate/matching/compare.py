"""How two records compare, field by field: each `FieldComparison` turns a pair of values into
a comparison level (0 when either value is missing, 1 for the closest agreement, the last level
for "nothing alike"). Values are normalised once per record (`prepare`), then compared per pair
(`level`). This module owns the levels; what a level is worth is the model's business.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Literal, get_args

from rapidfuzz.distance import JaroWinkler, Levenshtein
from rapidfuzz.fuzz import token_set_ratio, token_sort_ratio

from tenantry.errors import ValidationError
from tenantry.migrate.matching import normalize

__all__ = ["FieldComparison", "Kind", "level_names"]

Kind = Literal[
    "name",
    "person",
    "text",
    "address",
    "exact",
    "phone",
    "email",
    "website",
    "postal",
    "code",
    "date",
]
_KINDS = frozenset(get_args(Kind))

# Similarity thresholds of the fuzzy levels of each string kind (closest first).
_DEFAULT_THRESHOLDS: Mapping[str, tuple[float, ...]] = {
    "name": (0.92, 0.8),
    "person": (0.92, 0.8),
    "text": (0.92, 0.8),
    "address": (0.9, 0.75),
}


@dataclass(frozen=True)
class FieldComparison:
    """One comparison of the model: a field (or several, joined: street + house number) and how
    its values are compared. `kind` picks the normal form and the levels:

    - name (business names: token set, order-free, legal forms dropped), person (a name part,
      nicknames folded), text, address (street words unified): exact, then one level per
      similarity threshold (max of Jaro-Winkler and token ratios), then different;
    - exact, email, website: equal after normalising, or not (middle level: email, the same
      local part; website, the same host);
    - phone: same E.164 number, same last 7 digits, different;
    - postal, code: equal, one edit apart, (code: two edits), different;
    - date: equal, one typo apart, within 31 days, within a year, different.
    """

    field: str
    kind: Kind = "text"
    also: tuple[str, ...] = ()
    thresholds: tuple[float, ...] = ()
    stopwords: frozenset[str] = frozenset()
    nicknames: Mapping[str, str] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise ValidationError(f"unknown comparison kind {self.kind!r} for field {self.field}")
        limits = self.thresholds
        if limits and (list(limits) != sorted(limits, reverse=True) or not 0 < limits[-1] <= 1):
            raise ValidationError(f"thresholds of {self.field} must fall, between 0 and 1")

    @property
    def name(self) -> str:
        return "+".join((self.field, *self.also))

    @property
    def levels(self) -> int:
        """How many levels besides "missing" (level 0)."""
        if self.kind in _DEFAULT_THRESHOLDS:
            return 2 + len(self._thresholds)
        return {
            "exact": 2,
            "email": 3,
            "website": 3,
            "phone": 3,
            "postal": 3,
            "code": 4,
            "date": 5,
        }[self.kind]

    @property
    def _thresholds(self) -> tuple[float, ...]:
        return self.thresholds or _DEFAULT_THRESHOLDS[self.kind]

    def raw(self, fields: Mapping[str, str | None]) -> str:
        parts = [fields.get(f) for f in (self.field, *self.also)]
        return " ".join(p.strip() for p in parts if p and p.strip())

    def prepare(self, fields: Mapping[str, str | None], region: str) -> str:
        """The normal form of a record's value ("" when missing); `region` reads phone numbers
        without a country code."""
        value = self.raw(fields)
        kind = self.kind
        if kind == "name":
            stop = self.stopwords or normalize.BUSINESS_STOPWORDS
            return " ".join(sorted(normalize.name_tokens(value, stop, self.nicknames)))
        if kind == "person":
            return " ".join(normalize.name_tokens(value, self.stopwords, self.nicknames))
        if kind == "address":
            return normalize.street(value)
        if kind == "phone":
            return normalize.phone(value, region)
        if kind == "email":
            return normalize.email(value)
        if kind == "website":
            return normalize.website(value)
        if kind == "postal":
            return normalize.postal(value)
        if kind == "date":
            return _date_digits(value)
        return normalize.fold(value)

    def level(self, a: str, b: str) -> int:
        """The level of two prepared values."""
        if not a or not b:
            return 0
        if a == b:
            return 1
        kind = self.kind
        if kind in _DEFAULT_THRESHOLDS:
            sim = JaroWinkler.normalized_similarity(a, b)
            if kind in ("name", "address"):
                ratio = token_set_ratio if kind == "name" else token_sort_ratio
                sim = max(sim, ratio(a, b) / 100.0)
            for i, threshold in enumerate(self._thresholds):
                if sim >= threshold:
                    return 2 + i
            return self.levels
        if kind == "exact":
            return 2
        if kind == "email":
            return 2 if a.split("@")[0] == b.split("@")[0] else 3
        if kind == "website":
            return 2 if a.split("/")[0] == b.split("/")[0] else 3
        if kind == "phone":
            return 2 if len(a) >= 7 and a[-7:] == b[-7:] else 3
        if kind == "postal":
            return 2 if Levenshtein.distance(a, b, score_cutoff=1) <= 1 else 3
        if kind == "code":
            edits = Levenshtein.distance(a, b, score_cutoff=2)
            return 1 + edits if edits <= 2 else 4
        return _date_level(a, b)


_ISO_DATE = re.compile(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})")
_DMY_DATE = re.compile(r"(\d{1,2})[.-](\d{1,2})[.-](\d{4})")


def _date_digits(value: str) -> str:
    """YYYYMMDD from 1950-01-05 (a timestamp too), 5.1.1950 or 19500105; else ""."""
    value = value.strip()
    if found := _ISO_DATE.match(value):
        year, month, day = found.groups()
    elif found := _DMY_DATE.fullmatch(value):
        day, month, year = found.groups()
    elif len(value) == 8 and value.isdigit():
        year, month, day = value[:4], value[4:6], value[6:]
    else:
        return ""
    return f"{year}{int(month):02d}{int(day):02d}"


def _date_level(a: str, b: str) -> int:
    if Levenshtein.distance(a, b, score_cutoff=1) <= 1:
        return 2
    try:
        da = date(int(a[:4]), int(a[4:6]), int(a[6:]))
        db = date(int(b[:4]), int(b[4:6]), int(b[6:]))
    except ValueError:
        return 5
    days = abs((da - db).days)
    return 3 if days <= 31 else 4 if days <= 366 else 5


def level_names(comparison: FieldComparison) -> list[str]:
    """Readable names of a comparison's levels (index = level)."""
    kind = comparison.kind
    if kind in _DEFAULT_THRESHOLDS:
        fuzzy = [f"similar>={t:g}" for t in comparison._thresholds]
        return ["missing", "exact", *fuzzy, "different"]
    return {
        "exact": ["missing", "equal", "different"],
        "email": ["missing", "equal", "same local part", "different"],
        "website": ["missing", "equal", "same host", "different"],
        "phone": ["missing", "equal", "same last 7 digits", "different"],
        "postal": ["missing", "equal", "one edit", "different"],
        "code": ["missing", "equal", "one edit", "two edits", "different"],
        "date": ["missing", "equal", "one typo", "within a month", "within a year", "different"],
    }[kind]
