"""Data-quality rules in the style of seed 001 (AWS Glue DQDL), compiled to DuckDB SQL.

Rules are declared per table in `quality.toml` (shipped in this package) as DQDL strings:
`ColumnCount`, `RowCount`, `IsComplete`, `IsUnique`, `IsPrimaryKey`, `ColumnValues` (`in [...]`,
`between`, a comparison), `ReferentialIntegrity`, `DataFreshness` and `CustomSql`. Each rule
compiles to one SELECT that returns `passed` and `observed` (a number, never a value from the
data, so reports carry no pseudonyms). The runner evaluates them on a staged table before it
publishes it. This module parses and compiles; it opens no table itself.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

import duckdb

from tenantry.errors import ValidationError

__all__ = [
    "RULE_TYPES",
    "Rule",
    "RuleResult",
    "compile_rule",
    "evaluate",
    "load_config",
    "parse_rule",
    "rules_for",
]

RULE_TYPES = (
    "ColumnCount",
    "RowCount",
    "IsComplete",
    "IsUnique",
    "IsPrimaryKey",
    "ColumnValues",
    "ReferentialIntegrity",
    "DataFreshness",
    "CustomSql",
)

_NUM = r"-?\d+(?:\.\d+)?"
_COND = re.compile(rf"^\s*(?:(=|!=|>=|<=|>|<)\s*({_NUM})|between\s+({_NUM})\s+and\s+({_NUM}))\s*$")
_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"|\'((?:[^\'\\]|\\.)*)\'')
_UNITS = {"minutes": "MINUTE", "hours": "HOUR", "days": "DAY"}
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class Rule:
    text: str
    kind: str
    columns: tuple[str, ...] = ()
    condition: str = ""  # "> 0", "between 1 and 5", "in [...]"
    values: tuple[str, ...] = ()
    reference: str = ""
    ref_columns: tuple[str, ...] = ()
    sql: str = ""


@dataclass(frozen=True)
class RuleResult:
    table: str
    rule: str
    passed: bool
    observed: float | None
    message: str = ""


def _bad(text: str, why: str) -> ValidationError:
    return ValidationError(f"data-quality rule {text!r}: {why}")


def _strings(s: str) -> tuple[list[str], str]:
    """Leading quoted strings of `s` and the rest."""
    out: list[str] = []
    rest = s.strip()
    while True:
        m = _QUOTED.match(rest)
        if not m:
            return out, rest
        out.append(m.group(1) if m.group(1) is not None else m.group(2))
        rest = rest[m.end() :].strip()


def _columns(spec: str, text: str) -> tuple[str, ...]:
    cols = tuple(c.strip() for c in spec.split(",") if c.strip())
    if not cols or not all(_IDENT.match(c) for c in cols):
        raise _bad(text, f"bad column list {spec!r}")
    return cols


def _condition(cond: str, text: str) -> str:
    if not _COND.match(cond):
        raise _bad(text, "expected '<op> <number>' or 'between <a> and <b>'")
    return " ".join(cond.split())


def parse_rule(text: str) -> Rule:
    """Parse one DQDL rule; bad syntax is a ValidationError naming the rule."""
    kind, _, rest = text.strip().partition(" ")
    if kind not in RULE_TYPES:
        raise _bad(text, f"unknown rule type (known: {', '.join(RULE_TYPES)})")
    strings, tail = _strings(rest)
    if kind in ("ColumnCount", "RowCount"):
        return Rule(text, kind, condition=_condition(rest, text))
    if kind in ("IsComplete", "IsUnique", "IsPrimaryKey"):
        if not strings or tail:
            raise _bad(text, "expected quoted column names only")
        cols = tuple(c for s in strings for c in _columns(s, text))
        return Rule(text, kind, columns=cols)
    if kind == "ColumnValues":
        if len(strings) != 1:
            raise _bad(text, "expected one quoted column")
        cols = _columns(strings[0], text)
        m = re.match(r"^in\s*\[(.*)\]$", tail, re.S)
        if m:
            vals, extra = _strings(m.group(1).replace(",", " "))
            if extra.strip():
                raise _bad(text, "values must be quoted")
            return Rule(text, kind, columns=cols, values=tuple(vals), condition="in")
        return Rule(text, kind, columns=cols, condition=_condition(tail, text))
    if kind == "ReferentialIntegrity":
        if len(strings) != 2:
            raise _bad(text, 'expected "cols" "table.{cols}"')
        ref, _, ref_cols = strings[1].partition(".")
        ref_cols = ref_cols.strip("{}")
        cols, rcols = _columns(strings[0], text), _columns(ref_cols, text)
        if len(cols) != len(rcols) or not _IDENT.match(ref):
            raise _bad(text, "column lists differ in length or bad table name")
        cond = _condition(tail, text) if tail else "= 1.0"
        return Rule(text, kind, columns=cols, reference=ref, ref_columns=rcols, condition=cond)
    if kind == "DataFreshness":
        m = re.match(rf"^(<=|<)\s*({_NUM})\s+(minutes|hours|days)$", tail)
        if len(strings) != 1 or not m:
            raise _bad(text, 'expected "column" <= N minutes|hours|days')
        return Rule(text, kind, columns=_columns(strings[0], text), condition=tail)
    if len(strings) != 1 or not strings[0].lstrip().lower().startswith("select"):
        raise _bad(text, 'expected "SELECT ..." <op> <number>')
    return Rule(text, kind, sql=strings[0], condition=_condition(tail, text))


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _cond(expr: str, condition: str) -> str:
    m = _COND.match(condition)
    assert m is not None
    if m.group(1):
        return f"{expr} {'<>' if m.group(1) == '!=' else m.group(1)} {m.group(2)}"
    return f"{expr} BETWEEN {m.group(3)} AND {m.group(4)}"


def compile_rule(rule: Rule, relation: str, resolve: Callable[[str], str] = _q) -> str:
    """The SQL that evaluates `rule` on `relation`: one row (passed BOOLEAN, observed DOUBLE)."""
    rel = _q(relation)
    cols = ", ".join(_q(c) for c in rule.columns)
    if rule.kind == "ColumnCount":
        return f"SELECT {_cond('count(*)', rule.condition)}, count(*)::DOUBLE FROM (DESCRIBE {rel})"
    if rule.kind == "RowCount":
        return f"SELECT {_cond('count(*)', rule.condition)}, count(*)::DOUBLE FROM {rel}"
    if rule.kind == "IsComplete":
        nulls = " OR ".join(f"{_q(c)} IS NULL" for c in rule.columns)
        return f"SELECT count(*) = 0, count(*)::DOUBLE FROM {rel} WHERE {nulls}"
    if rule.kind == "IsUnique":
        return (
            f"SELECT count(*) = 0, count(*)::DOUBLE FROM "
            f"(SELECT {cols} FROM {rel} GROUP BY {cols} HAVING count(*) > 1)"
        )
    if rule.kind == "IsPrimaryKey":
        nulls = " OR ".join(f"{_q(c)} IS NULL" for c in rule.columns)
        return (
            f"WITH n AS (SELECT count(*) AS c FROM {rel} WHERE {nulls}), "
            f"d AS (SELECT count(*) AS c FROM (SELECT {cols} FROM {rel} GROUP BY {cols} "
            f"HAVING count(*) > 1)) SELECT n.c + d.c = 0, (n.c + d.c)::DOUBLE FROM n, d"
        )
    if rule.kind == "ColumnValues":
        col = _q(rule.columns[0])
        if rule.condition == "in":
            bad = f"{col} NOT IN ({', '.join(_lit(v) for v in rule.values)})"
        else:
            bad = f"NOT ({_cond(col, rule.condition)})"
        return f"SELECT count(*) = 0, count(*)::DOUBLE FROM {rel} WHERE {col} IS NOT NULL AND {bad}"
    if rule.kind == "ReferentialIntegrity":
        on = " AND ".join(
            f"k.{_q(a)} = r.{_q(b)}" for a, b in zip(rule.columns, rule.ref_columns, strict=True)
        )
        present = " AND ".join(f"{_q(c)} IS NOT NULL" for c in rule.columns)
        rcols = ", ".join(_q(c) for c in rule.ref_columns)
        ratio = "coalesce(count(r.__hit) / nullif(count(*), 0), 1.0)"
        return (
            f"WITH k AS (SELECT {cols} FROM {rel} WHERE {present}), "
            f"r AS (SELECT DISTINCT {rcols}, true AS __hit FROM {resolve(rule.reference)}) "
            f"SELECT {_cond(ratio, rule.condition)}, {ratio}::DOUBLE "
            f"FROM k LEFT JOIN r ON {on}"
        )
    if rule.kind == "DataFreshness":
        m = re.match(rf"^(<=|<)\s*({_NUM})\s+(\w+)$", rule.condition)
        assert m is not None
        age = f"($now::TIMESTAMPTZ - max({_q(rule.columns[0])}))"
        limit = f"INTERVAL ({m.group(2)}) {_UNITS[m.group(3)]}"
        return (
            f"SELECT coalesce({age} {m.group(1)} {limit}, false), epoch({age}) / 3600.0 FROM {rel}"
        )
    body = re.sub(r"\bprimary\b", rel, rule.sql, flags=re.IGNORECASE)
    return f"SELECT {_cond('v', rule.condition)}, v::DOUBLE FROM ({body}) AS q(v)"


def evaluate(
    con: duckdb.DuckDBPyConnection,
    table: str,
    rules: list[Rule],
    relation: str,
    *,
    resolve: Callable[[str], str] = _q,
    now: object = None,
) -> list[RuleResult]:
    """Run each rule on `relation`; a rule that cannot run (missing column, bad SQL) fails."""
    results = []
    for rule in rules:
        sql = compile_rule(rule, relation, resolve)
        params = {"now": now} if "$now" in sql else None
        try:
            rows = con.execute(sql, params).fetchall()
            row = rows[0] if rows else None
        except duckdb.Error as exc:
            first = str(exc).splitlines()[0][:200]
            results.append(RuleResult(table, rule.text, False, None, f"error: {first}"))
            continue
        assert row is not None
        passed = bool(row[0]) if row[0] is not None else False
        observed = float(row[1]) if row[1] is not None else None
        results.append(RuleResult(table, rule.text, passed, observed))
    return results


def load_config(text: str | None = None) -> Mapping[str, Any]:
    """The rules and SLAs file (`quality.toml` in this package unless `text` is given)."""
    if text is None:
        text = resources.files("tenantry.pipeline").joinpath("quality.toml").read_text("utf-8")
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValidationError(f"quality.toml: {exc}") from None


def rules_for(config: Mapping[str, Any], table: str) -> list[Rule]:
    entries = config.get("tables", {}).get(table, {}).get("rules", [])
    return [parse_rule(str(t)) for t in entries]
