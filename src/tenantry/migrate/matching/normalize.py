"""Normal forms of the values entity resolution compares: folded text (transliterated umlauts,
no accents), name tokens, street words, E.164 phone numbers, e-mail addresses, postal codes,
digit-only dates and a Soundex key. Pure functions; they never decide whether two values match.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from functools import lru_cache

import phonenumbers

__all__ = [
    "BUSINESS_STOPWORDS",
    "STREET_WORDS",
    "digits",
    "email",
    "fold",
    "name_tokens",
    "phone",
    "postal",
    "soundex",
    "street",
    "website",
]

# Written out before accents are stripped, so "Müller" reads "mueller" like a German typist's.
_TRANSLIT = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "æ": "ae", "ø": "oe"})
_NON_ALNUM = re.compile(r"[^0-9a-z]+")

# Articles and legal forms: they do not tell two businesses apart. The kind of place does
# ("Hotel X Restaurant" and "Hotel X Bar" share an address and a phone), so it stays.
_STOP = "the der die das la le el il gmbh mbh ug ag kg ohg gbr ek e k ltd llc inc co corp"
BUSINESS_STOPWORDS = frozenset((_STOP + " und and").split())

# One spelling per street word (German and English abbreviations).
STREET_WORDS: Mapping[str, str] = {
    "str": "strasse", "strasse": "strasse", "st": "street", "ave": "avenue", "av": "avenue",
    "blvd": "boulevard", "blv": "boulevard", "bd": "boulevard", "rd": "road", "dr": "drive",
    "ln": "lane", "pl": "place", "sq": "square", "hwy": "highway", "pkwy": "parkway",
    "n": "north", "s": "south", "e": "east", "w": "west", "ste": "suite", "pz": "platz",
}  # fmt: skip


def fold(value: str | None) -> str:
    """Lower case, umlauts transliterated, accents dropped, punctuation as single spaces."""
    return _fold(value) if value else ""


@lru_cache(maxsize=1 << 16)  # columns repeat their values (cities, postal codes, names)
def _fold(value: str) -> str:
    text = value.casefold()
    if not text.isascii():
        text = unicodedata.normalize("NFKD", text.translate(_TRANSLIT))
        text = "".join(c for c in text if not unicodedata.combining(c))
    return _NON_ALNUM.sub(" ", text).strip()


def name_tokens(
    value: str | None,
    stopwords: frozenset[str] = frozenset(),
    nicknames: Mapping[str, str] | None = None,
) -> list[str]:
    """The folded words of a name, stopwords dropped (all of them only if nothing else is
    left), nicknames replaced by their full form."""
    words = fold(value).split()
    kept = [w for w in words if w not in stopwords] or words
    if nicknames:
        kept = [nicknames.get(w, w) for w in kept]
    return kept


def street(value: str | None) -> str:
    """A street with one spelling per street word; "Hauptstr." and "hauptstrasse" agree."""
    text = fold(value)
    text = re.sub(r"([a-z])(str|strasse)\b", r"\1 strasse", text)
    return " ".join(STREET_WORDS.get(w, w) for w in text.split())


def digits(value: str | None) -> str:
    return "".join(c for c in value or "" if c.isdigit())


@lru_cache(maxsize=1 << 14)
def phone(value: str | None, region: str) -> str:
    """E.164 when the number parses in `region`, else its digits (never raises)."""
    if not value or not value.strip():
        return ""
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        return digits(value)
    if not phonenumbers.is_possible_number(number):
        return digits(value)
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


def email(value: str | None) -> str:
    return (value or "").strip().casefold()


def website(value: str | None) -> str:
    """host/path of a web address, without scheme, "www.", query or trailing slash."""
    text = (value or "").strip().casefold()
    text = re.sub(r"^[a-z][a-z0-9+.-]*://", "", text).removeprefix("www.")
    return text.split("?")[0].split("#")[0].rstrip("/")


def postal(value: str | None) -> str:
    return fold(value).replace(" ", "").upper()


_SOUNDEX = str.maketrans("bfpvcgjkqsxzdtlmnr", "111122222222334556")


def soundex(word: str) -> str:
    """The American Soundex code of a folded word ("" for no letters)."""
    letters = [c for c in word if "a" <= c <= "z"]
    if not letters:
        return ""
    coded = "".join(letters).translate(_SOUNDEX)
    out = [letters[0].upper()]
    last = coded[0]
    for letter, code in zip(letters[1:], coded[1:], strict=True):
        if code.isdigit() and code != last:
            out.append(code)
        if letter not in "hw":
            last = code
        if len(out) == 4:
            break
    return "".join(out).ljust(4, "0")
