"""Entity resolution of `tenantry migrate` (`tenantry.migrate.resolve`): the same business in
two legacy tables is merged, neighbours that only look alike stay apart, every merged value
names the record it came from, and the model learns from the records alone (no labels).

The data are generated here: obviously fake businesses ("Alpha Bistro", "Musterstraße"),
addresses in example.com, phone numbers from the 555 range.
"""

from __future__ import annotations

import random
import uuid
from collections import Counter
from collections.abc import Hashable

import pytest

from tenantry.errors import ValidationError
from tenantry.migrate.matching import normalize
from tenantry.migrate.matching.model import estimate_u, fit
from tenantry.migrate.resolve import (
    BlockingKey,
    Comparison,
    FieldComparison,
    Record,
    Resolution,
    Survivorship,
    business_comparison,
    person_comparison,
    resolve,
    survive,
)

WORDS = ["Alpha", "Bravo", "Charlie", "Delta", "Echo", "Foxtrot", "Golf", "Hotel", "India",
         "Juliett", "Kilo", "Lima", "Mike", "November", "Oscar", "Papa", "Quebec", "Romeo",
         "Sierra", "Tango", "Uniform", "Victor", "Whiskey", "Xray", "Yankee", "Zulu"]  # fmt: skip
KINDS = ["Bistro", "Grill", "Pizzeria", "Bäckerei", "Imbiss"]
STREETS = ["Musterstraße", "Beispielweg", "Probeallee", "Testgasse", "Fiktivplatz"]

BUSINESS = business_comparison()


def _business(i: int) -> dict[str, str]:
    word = WORDS[i % len(WORDS)] + ("" if i < len(WORDS) else f" {WORDS[(i * 7) % len(WORDS)]}")
    return {
        "name": f"{word} {KINDS[i % len(KINDS)]}",
        "street": STREETS[i % len(STREETS)],
        "house_number": str(3 + (i * 11) % 90),
        "postal_code": f"1{i % 6}115",
        "city": "Musterstadt",
        "phone": f"+49 30 555{i:04d}",
        "email": f"info{i}@example.com",
        "place_id": f"place-{i:04d}",
    }


def _as_profile(values: dict[str, str], rng: random.Random) -> dict[str, str | None]:
    """The same business as the second legacy table writes it: legal form, abbreviations,
    national phone format, transliterated umlauts, some values missing."""
    name = values["name"].upper() + rng.choice([" GmbH", "", " UG"])
    name = name.replace("Ä", "AE") if rng.random() < 0.5 else name
    return {
        "name": name,
        "street": values["street"].replace("straße", "str."),
        "house_number": values["house_number"],
        "postal_code": values["postal_code"],
        "city": values["city"] if rng.random() < 0.7 else None,
        "phone": "030 " + values["phone"].removeprefix("+49 30 "),
        "email": values["email"].upper() if rng.random() < 0.5 else None,
        "place_id": values["place_id"] if rng.random() < 0.6 else None,
    }


def _two_tables(count: int, seed: int = 5) -> tuple[list[Record], set[frozenset[str]]]:
    """`count` businesses in `business_partners`; the first two thirds again, differently
    written, in `business_profiles`. Returns the records and the true pairs."""
    rng = random.Random(seed)
    records: list[Record] = []
    truth: set[frozenset[str]] = set()
    for i in range(count):
        values = _business(i)
        records.append(Record(f"partner-{i}", "business_partners", values))
        if i < 2 * count // 3:
            records.append(Record(f"profile-{i}", "business_profiles", _as_profile(values, rng)))
            truth.add(frozenset({f"partner-{i}", f"profile-{i}"}))
    rng.shuffle(records)
    return records, truth


def _merged_pairs(resolution: Resolution) -> set[frozenset[Hashable]]:
    return {frozenset(c) for c in resolution.merged()}


def test_the_same_business_in_two_tables_is_merged_and_no_other() -> None:
    records, truth = _two_tables(60)
    resolution = resolve(records, BUSINESS)
    assert _merged_pairs(resolution) == truth
    assert sorted(k for c in resolution.clusters for k in c) == sorted(r.key for r in records)


def test_look_alike_neighbours_stay_apart() -> None:
    records, truth = _two_tables(45)
    # Same street, same postal code, a one-letter name difference; its own phone and e-mail.
    twin = _business(0) | {
        "name": _business(0)["name"].replace("Alpha", "Alfa"),
        "house_number": "77",
        "phone": "+49 30 5559876",
        "email": "kontakt@example.org",
        "place_id": "place-9999",
    }
    records.append(Record("partner-twin", "business_partners", twin))
    resolution = resolve(records, BUSINESS)
    assert not any("partner-twin" in c and len(c) > 1 for c in resolution.clusters)
    assert _merged_pairs(resolution) == truth


def test_each_pair_carries_its_probability_and_the_reasons_per_field() -> None:
    records, _ = _two_tables(45)
    resolution = resolve(records, BUSINESS)
    best = next(p for p in resolution.pairs if {p.left, p.right} == {"partner-1", "profile-1"})
    assert best.probability > 0.99
    reasons = {r.field: r for r in best.reasons}
    assert reasons["phone"].level == "equal" and reasons["phone"].weight > 3
    assert reasons["street+house_number"].level == "exact"
    assert [p.probability for p in resolution.pairs] == sorted(
        (p.probability for p in resolution.pairs), reverse=True
    )
    worst = resolution.pairs[-1]
    assert worst.probability < 0.5
    assert sum(r.weight for r in worst.reasons) < 0


def test_no_labels_are_used_keys_carry_no_information() -> None:
    """Renaming every key at random and shuffling the input gives the same clusters."""
    records, truth = _two_tables(45)
    rename = {
        r.key: str(uuid.UUID(int=random.Random(i).getrandbits(128))) for i, r in enumerate(records)
    }
    renamed = [Record(rename[r.key], r.source, r.fields) for r in reversed(records)]
    resolution = resolve(renamed, BUSINESS)
    back = {v: k for k, v in rename.items()}
    assert {frozenset(back[k] for k in c) for c in resolution.merged()} == truth


def test_one_to_one_linkage_never_merges_two_records_of_one_source() -> None:
    base = _business(3)
    partners = [Record("p", "partners", base)]
    # Two profiles both close to the one partner: a duplicate-free source may give only one.
    close = [
        Record("a", "profiles", base | {"email": None}),
        Record("b", "profiles", base | {"email": None, "place_id": None}),
    ]
    others = [Record(f"o{i}", "partners", _business(i)) for i in range(10, 40)]
    others += [Record(f"q{i}", "profiles", _business(i)) for i in range(10, 40)]
    records = partners + close + others
    free = resolve(records, BUSINESS)
    assert {"p", "a", "b"} in [set(c) for c in free.clusters]
    linked = resolve(records, _with(BUSINESS, unique=frozenset({"partners", "profiles"})))
    cluster = next(set(c) for c in linked.clusters if "p" in c)
    assert cluster in ({"p", "a"}, {"p", "b"})
    for c in linked.clusters:
        sources = [r.source for r in records if r.key in c]
        assert len(sources) == len(set(sources))


def _with(comparison: Comparison, *, unique: frozenset[str]) -> Comparison:
    return Comparison(comparison.fields, comparison.blocking, unique_sources=unique)


GIVEN = ["Anna", "Bert", "Carla", "Dieter", "Erika", "Frank", "Greta", "Hans", "Ilse", "Jörg"]
SUR = ["Musterfrau", "Beispiel", "Testmann", "Probst", "Fiktiv", "Platzhalter", "Muster",
       "Exempel", "Dummy", "Fakeberg", "Schein", "Erfunden"]  # fmt: skip


def test_duplicate_customers_within_one_table_cluster_together() -> None:
    """Customers entered up to three times (typos, umlauts written out, another phone
    format, e-mail missing): every copy ends in one cluster, other customers stay alone."""
    rng = random.Random(11)
    records: list[Record] = []
    truth: list[set[str]] = []
    for i in range(80):
        given, surname = GIVEN[i % len(GIVEN)], SUR[(i * 5) % len(SUR)] + ("" if i < 12 else str(i))
        person = {
            "given_name": given,
            "surname": surname,
            "email": f"{given.lower()}.{i}@example.com".replace("ö", "oe"),
            "phone": f"+49 40 555{i:04d}",
            "date_of_birth": f"19{50 + i % 40}-0{1 + i % 9}-1{i % 10}",
            "postal_code": f"2{i % 9}099",
        }
        records.append(Record(f"c{i}", "customers", person))
        copies = {f"c{i}"}
        for n in range(i % 3):  # 0, 1 or 2 more copies
            copy = dict(person)
            copy["given_name"] = given.replace("ö", "oe").upper()
            copy["phone"] = f"040 555{i:04d}"
            if n:
                copy["surname"] = surname[:-1] + rng.choice("xyz")
                copy["email"] = None
            records.append(Record(f"c{i}-{n}", "customers", copy))
            copies.add(f"c{i}-{n}")
        truth.append(copies)
    resolution = resolve(records, person_comparison())
    assert sorted(map(sorted, (set(c) for c in resolution.clusters))) == sorted(map(sorted, truth))


def test_the_model_reports_what_it_learnt_per_field_and_level() -> None:
    records, _ = _two_tables(45)
    resolution = resolve(records, BUSINESS)
    rows = {(r["field"], r["level"]): r for r in resolution.parameters()}
    assert rows[("phone", "equal")]["weight"] > 0 > rows[("phone", "different")]["weight"]
    assert rows[("name", "exact")]["weight"] > rows[("name", "different")]["weight"]
    assert all(0 < float(r["m"]) <= 1 and 0 < float(r["u"]) <= 1 for r in rows.values())


def test_blocks_beyond_the_bound_are_skipped_and_counted() -> None:
    records = [Record(i, "s", {"name": f"Kilo {WORDS[i % 26]} {i}", "city": "Musterstadt"})
               for i in range(60)]  # fmt: skip
    comparison = Comparison(
        fields=(FieldComparison("name", "name"),),
        blocking=(BlockingKey("city"),),
        max_block=50,
    )
    resolution = resolve(records, comparison)
    assert resolution.stats["skipped_blocks"] == 1
    assert resolution.stats["candidate_pairs"] == 0


def test_survivorship_rules_choose_per_column_and_lineage_names_the_source() -> None:
    partner = Record("partner-7", "business_partners", {
        "name": "Alpha Bistro", "phone": None, "website": "https://example.com",
        "description": "Short", "updated_at": "2024-01-05T10:00:00+00:00",
    })  # fmt: skip
    profile = Record("profile-7", "business_profiles", {
        "name": "ALPHA BISTRO GMBH", "phone": "+49 30 5550007", "website": "https://example.org",
        "description": "A much longer description", "updated_at": "2025-03-01T09:00:00",
    })  # fmt: skip
    policy = Survivorship(
        rules={"name": "first_non_null", "description": "longest", "website": "newest"},
        default="most_complete",
        source_priority=("business_partners", "business_profiles"),
    )
    merged = survive([partner, profile], policy)
    assert merged.values["name"] == "Alpha Bistro" and merged.lineage["name"] == "partner-7"
    assert merged.values["description"] == "A much longer description"
    assert merged.lineage["description"] == "profile-7"
    assert merged.values["website"] == "https://example.org"
    assert merged.lineage["website"] == "profile-7"
    # most_complete: the profile has more values; and a value missing everywhere has no source.
    assert merged.lineage["phone"] == "profile-7"
    assert set(merged.lineage) == set(merged.values)
    alone = survive([partner], policy)
    assert alone.values["phone"] is None and alone.lineage["phone"] is None


def test_first_non_null_skips_empty_values_in_priority_order() -> None:
    a = Record(1, "legacy", {"email": "  ", "city": "Musterstadt"})
    b = Record(2, "crm", {"email": "info@example.com", "city": "Beispielstadt"})
    merged = survive([a, b], Survivorship(default="first_non_null", source_priority=("legacy",)))
    assert merged.values == {"email": "info@example.com", "city": "Musterstadt"}
    assert merged.lineage == {"email": 2, "city": 1}


def test_an_unknown_rule_and_duplicate_keys_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown survivorship rule"):
        Survivorship(rules={"name": "loudest"})  # type: ignore[dict-item]
    with pytest.raises(ValidationError, match="unknown comparison kind"):
        FieldComparison("name", "fuzzy")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="unknown blocking transform"):
        BlockingKey("name:soundslike")
    with pytest.raises(ValidationError, match="unique"):
        resolve([Record(1, "a", {"name": "x"}), Record(1, "b", {"name": "y"})], BUSINESS)


@pytest.mark.parametrize(
    ("left", "right"),
    [
        ("Müller Imbiss", "MUELLER IMBISS"),
        ("Café José", "cafe jose"),
        ("Straße", "strasse"),
        ("Øresund", "Oeresund"),
    ],
)
def test_names_are_compared_after_transliteration(left: str, right: str) -> None:
    assert normalize.fold(left) == normalize.fold(right)


def test_name_order_legal_forms_and_street_spellings_do_not_matter() -> None:
    name = FieldComparison("name", "name")
    a, b = (
        name.prepare({"name": "Bistro Alpha GmbH"}, "DE"),
        name.prepare({"name": "The Alpha Bistro"}, "DE"),
    )
    assert name.level(a, b) == 1
    street = FieldComparison("street", "address", also=("house_number",))
    s1 = street.prepare({"street": "Musterstraße", "house_number": "12"}, "DE")
    s2 = street.prepare({"street": "Musterstr.", "house_number": "12"}, "DE")
    assert street.level(s1, s2) == 1


def test_phones_compare_as_e164() -> None:
    phone = FieldComparison("phone", "phone")
    assert phone.prepare({"phone": "030 5550123"}, "DE") == phone.prepare(
        {"phone": "+49 (30) 555-0123"}, "US"
    )
    assert phone.prepare({"phone": "(310) 555-0123"}, "US") == "+13105550123"
    assert phone.prepare({"phone": "not a number"}, "DE") == ""


def test_nicknames_are_optional() -> None:
    plain = FieldComparison("given_name", "person")
    nick = FieldComparison("given_name", "person", nicknames={"bob": "robert"})
    assert plain.prepare({"given_name": "Bob"}, "DE") != plain.prepare(
        {"given_name": "Robert"}, "DE"
    )
    assert nick.prepare({"given_name": "Bob"}, "DE") == nick.prepare({"given_name": "Robert"}, "DE")


def test_em_recovers_the_parameters_that_generated_the_comparisons() -> None:
    """Level patterns drawn from a known model (10% matches, three comparisons): the fit,
    which never sees which pattern came from a match, finds m and the match share again."""
    rng = random.Random(3)
    m_true = [[0, 0.85, 0.1, 0.05], [0, 0.9, 0.1], [0, 0.7, 0.2, 0.1]]
    u_true = [[0, 0.02, 0.08, 0.9], [0, 0.05, 0.95], [0, 0.1, 0.2, 0.7]]

    def draw(probs: list[float]) -> int:
        return rng.choices(range(1, len(probs)), weights=probs[1:])[0]

    patterns: Counter[tuple[int, ...]] = Counter()
    for _ in range(20_000):
        table = m_true if rng.random() < 0.1 else u_true
        patterns[tuple(draw(row) for row in table)] += 1
    random_pairs = [tuple(draw(row) for row in u_true) for _ in range(5_000)]
    sizes = [3, 2, 3]
    model = fit(patterns, sizes, estimate_u(random_pairs, sizes), match_share=0.3)
    assert abs(model.match_share - 0.1) < 0.02
    for fitted, true in zip(model.m, m_true, strict=True):
        assert all(abs(a - b) < 0.05 for a, b in zip(fitted[1:], true[1:], strict=True))


@pytest.mark.parametrize(
    "written", ["1950-01-05", "1950-1-5", "05.01.1950", "19500105", "1950-01-05T00:00:00"]
)
def test_dates_compare_in_every_usual_spelling(written: str) -> None:
    born = FieldComparison("date_of_birth", "date")
    assert born.prepare({"date_of_birth": written}, "DE") == "19500105"
    assert born.level("19500105", born.prepare({"date_of_birth": "1950-01-15"}, "DE")) == 2
    assert born.prepare({"date_of_birth": "unknown"}, "DE") == ""


def test_web_addresses_compare_by_host_and_path() -> None:
    site = FieldComparison("website", "website")
    a = site.prepare({"website": "https://www.example.com/"}, "DE")
    assert a == site.prepare({"website": "example.com"}, "DE") == "example.com"
    menu = site.prepare({"website": "http://example.com/menu?lang=de"}, "DE")
    assert site.level(a, menu) == 2
    assert site.level(a, site.prepare({"website": "example.org"}, "DE")) == 3
