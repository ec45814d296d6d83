"""How a payer's name is compared with a customer's: transliteration, nicknames, name order.

Payment providers write names as the payer's bank has them: upper case, without diacritics,
surname first ("MUSTERMANN, ERIKA"), shortened ("Bob" for Robert), or truncated. This module
reduces a name to comparable tokens and grades how well two names agree. It does no I/O and
never logs a name.
"""

from __future__ import annotations

import re
import unicodedata
from enum import IntEnum
from functools import lru_cache

from rapidfuzz.distance import JaroWinkler

__all__ = ["NameAgreement", "agreement", "mentions", "name_key", "tokens"]

# Letters NFKD does not decompose into a base letter and a mark.
_SPECIAL = str.maketrans(
    {
        "ß": "ss",
        "æ": "ae",
        "ø": "o",
        "œ": "oe",
        "ł": "l",
        "đ": "d",
        "ð": "d",
        "þ": "th",
        "\u0131": "i",  # dotless i
    }
)
# German umlauts are written both ways ("Müller", "Mueller"); fold the digraph after NFKD made
# "ü" into "u", on both sides alike, so the two spellings meet.
_DIGRAPHS = (("ae", "a"), ("oe", "o"), ("ue", "u"))
_SPLIT = re.compile(r"[^a-z]+")
_TITLES = frozenset(
    {"mr", "mrs", "ms", "miss", "dr", "prof", "herr", "frau", "jr", "sr", "ii", "iii", "von", "van"}
)

_NICKNAMES: dict[str, tuple[str, ...]] = {
    "robert": ("bob", "bobby", "rob", "robbie", "bert"),
    "william": ("bill", "billy", "will", "willy", "liam"),
    "elizabeth": ("liz", "lizzy", "beth", "betty", "eliza", "elisabeth", "lisa"),
    "katherine": ("kate", "kathy", "katie", "kat", "catherine", "kathrin", "kathi"),
    "katharina": ("kathi", "kati", "katja", "katrin", "kathrin"),
    "michael": ("mike", "mikey", "mick", "micha"),
    "james": ("jim", "jimmy", "jamie"),
    "thomas": ("tom", "tommy"),
    "alexander": ("alex", "xander", "sascha", "sasha"),
    "alexandra": ("alex", "sandra", "sascha"),
    "christopher": ("chris", "kit"),
    "christine": ("chris", "christina", "tina"),
    "christian": ("chris",),
    "daniel": ("dan", "danny"),
    "david": ("dave", "davey"),
    "joseph": ("joe", "joey", "josef", "sepp"),
    "samuel": ("sam", "sammy"),
    "samantha": ("sam", "sammy"),
    "benjamin": ("ben", "benny"),
    "matthew": ("matt", "matty"),
    "matthias": ("matze", "matti"),
    "nicholas": ("nick", "nicky", "nico", "nikolaus", "klaus"),
    "anthony": ("tony", "anton"),
    "steven": ("steve", "stephen", "stefan"),
    "jennifer": ("jen", "jenny", "jenna"),
    "susan": ("sue", "susie", "suzanne", "susanne"),
    "margaret": ("maggie", "peggy", "meg", "greta", "margarete", "gretchen"),
    "andrew": ("andy", "drew", "andreas"),
    "richard": ("rick", "rich", "dick", "ricky"),
    "edward": ("ed", "eddie", "ted", "ned"),
    "johannes": ("hans", "jo", "johann", "john", "jonny"),
    "john": ("jack", "johnny", "jon"),
    "ulrich": ("uli", "ulli"),
    "stefanie": ("steffi", "stephanie"),
    "sebastian": ("basti", "seb"),
    "florian": ("flo",),
    "maximilian": ("max", "maxi"),
    "patricia": ("pat", "patty", "trish"),
    "patrick": ("pat", "paddy"),
    "rebecca": ("becky", "becca"),
    "victoria": ("vicky", "tori"),
    "jonathan": ("jon", "jonny", "nathan"),
    "nathaniel": ("nate", "nathan"),
    "gregory": ("greg",),
    "timothy": ("tim", "timmy"),
    "kenneth": ("ken", "kenny"),
    "donald": ("don", "donnie"),
    "ronald": ("ron", "ronnie"),
    "charles": ("charlie", "chuck", "karl"),
    "wolfgang": ("wolf",),
    "friedrich": ("fritz",),
    "heinrich": ("heinz", "henry"),
    "franziska": ("franzi",),
    "jessica": ("jess", "jessie"),
    "amanda": ("mandy",),
    "deborah": ("debbie", "deb"),
    "barbara": ("barb", "babs"),
    "dorothy": ("dot", "dottie", "dorothea"),
    "theodore": ("ted", "teddy", "theo"),
    "zachary": ("zach", "zack"),
    "abigail": ("abby",),
    "olivia": ("liv", "livvy"),
    "isabella": ("bella", "izzy", "isabel"),
    "emily": ("em", "emmy"),
    "eleanor": ("ellie", "nora", "elli"),
    "erika": ("rike",),
}
# Every spelling to the set of canonical names it may stand for.
_CANONICAL: dict[str, frozenset[str]] = {}
for _full, _shorts in _NICKNAMES.items():
    for _name in (_full, *_shorts):
        _CANONICAL[_name] = _CANONICAL.get(_name, frozenset()) | {_full}


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold().translate(_SPECIAL))
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    for digraph, letter in _DIGRAPHS:
        plain = plain.replace(digraph, letter)
    return plain


@lru_cache(maxsize=1 << 16)
def tokens(name: str | None) -> tuple[str, ...]:
    """The name's words, folded to plain lower-case letters, titles dropped, in written order."""
    if not name:
        return ()
    return tuple(t for t in _SPLIT.split(_fold(name)) if t and t not in _TITLES)


def name_key(name: str | None) -> str:
    """One string per person however the name is written: sorted tokens (the blind-index input)."""
    return " ".join(sorted(tokens(name)))


class NameAgreement(IntEnum):
    """How far a payer's name agrees with a person's, from none to the full name."""

    NONE = 0
    FIRST_ONLY = 1
    SURNAME_ONLY = 2  # a relative or partner paying
    INITIAL_AND_SURNAME = 3  # "E. Mustermann"
    FULL = 4


def _same(a: str, b: str) -> bool:
    if a == b:
        return True
    if min(len(a), len(b)) >= 4 and JaroWinkler.similarity(a, b) >= 0.93:
        return True
    return bool(_CANONICAL.get(a, frozenset()) & _CANONICAL.get(b, frozenset()))


def _initial(a: str, b: str) -> bool:
    return (len(a) == 1 and b.startswith(a)) or (len(b) == 1 and a.startswith(b))


def agreement(payer: str | None, first_name: str | None, last_name: str | None) -> NameAgreement:
    """Grade a payer's name against a person's first and last name, in any word order."""
    words = tokens(payer)
    firsts, lasts = tokens(first_name), tokens(last_name)
    if not words or not (firsts or lasts):
        return NameAgreement.NONE
    # Surname: any of the person's last-name words appears among the payer's words.
    surname = next((w for w in words for last in lasts if _same(w, last)), None)
    rest = [w for w in words if w != surname] if surname else list(words)
    first = any(_same(w, f) for w in rest for f in firsts)
    initial = any(_initial(w, f) for w in rest for f in firsts)
    if surname and first:
        return NameAgreement.FULL
    if surname and initial:
        return NameAgreement.INITIAL_AND_SURNAME
    if surname:
        return NameAgreement.SURNAME_ONLY
    if first:
        return NameAgreement.FIRST_ONLY
    return NameAgreement.NONE


def mentions(text: str | None, last_name: str | None) -> bool:
    """Whether a memo names the person by surname ("for the Mustermann party")."""
    words = set(tokens(text))
    lasts = [t for t in tokens(last_name) if len(t) >= 3]
    return bool(lasts) and all(last in words for last in lasts)
