"""Mappings: how a legacy schema becomes the canonical model, read from a TOML file.

A mapping lists entities (one source table feeding one canonical table), how each row finds
its tenant, the value conversions per target column, the personal columns it leaves out, and
the consolidation groups whose rows describe the same thing. Built-in mappings live next to
this module (`mappings/<name>.toml`); a user's mapping is a path. This module parses and checks
the file against the canonical model only; whether it fits a source database is `plan`'s job.
It does no I/O besides reading the file.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Any

from tenantry.errors import ValidationError
from tenantry.migrate.convert import CONVERSIONS
from tenantry.migrate.targets import TARGETS, Target

__all__ = [
    "BUILTIN",
    "ColumnSpec",
    "Consolidation",
    "Entity",
    "Exclusion",
    "Mapping",
    "MappingError",
    "TenantRule",
    "builtin_names",
    "load_mapping",
    "parse_mapping",
]

BUILTIN = "tenantry.migrate.mappings"
SURVIVORSHIP = ("most_complete", "first_non_null", "longest", "newest")
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
_QUALIFIED = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*\.[A-Za-z_][A-Za-z0-9_$]*$")
_CARD = re.compile(r"(^|_)(card_?number|cc_?num(ber)?|pan|cvc2?|cvv2?|card_?cvc|security_code)$")
_SPEC_KEYS = {
    "from",
    "sql",
    "value",
    "convert",
    "path",
    "values",
    "default",
    "ref",
    "missing",
    "legacy_cipher",
    "timezone",
    "write_back",
}
_ENTITY_KEYS = {
    "name",
    "source",
    "target",
    "key",
    "optional",
    "tenant",
    "where",
    "where_reason",
    "where_outcome",
    "soft_delete",
    "exclude",
    "columns",
    "personal",
}


class MappingError(ValidationError):
    """The mapping is not valid."""


def looks_like_card_data(column: str) -> bool:
    """Whether a source column's name says it holds card numbers or security codes."""
    return bool(_CARD.search(column.lower()))


@dataclass(frozen=True)
class ColumnSpec:
    """Where one target column's value comes from and how it is converted."""

    target: str
    source: str | None = None  # a source column
    sql: str | None = None  # or an SQL expression over the source row `t`
    value: Any = None  # or a constant
    convert: str | None = None
    path: tuple[str, ...] = ()  # fallbacks: the first path that yields a value wins
    values: dict[str, str] = field(default_factory=dict)
    default: str | None = None
    ref: str | None = None  # entity whose canonical id this column takes
    missing: str = "quarantine"  # or "null": an unresolved reference loads as NULL
    legacy_cipher: str | None = None
    timezone: str | None = None
    # The source column `migrate rollback` writes this value to when it comes from `sql`.
    write_back: str | None = None

    @property
    def reads_source(self) -> bool:
        return self.source is not None or self.sql is not None


@dataclass(frozen=True)
class Exclusion:
    sql: str
    reason: str


@dataclass(frozen=True)
class TenantRule:
    """How a row finds its tenant: it is one (`self`), it follows a reference, or it is fixed."""

    kind: str  # self | ref | fixed
    ref: str | None = None
    column: str | None = None  # source column holding the referenced key
    sql: str | None = None
    slug: str | None = None
    name: str | None = None
    vertical: str | None = None


@dataclass(frozen=True)
class Entity:
    name: str
    source: str  # schema.table
    target: str  # schema.table of the canonical model
    key: tuple[str, ...]  # empty: the source's primary key
    tenant: TenantRule
    columns: tuple[ColumnSpec, ...]
    optional: bool = False
    where: str | None = None
    where_reason: str = "excluded by the mapping's filter"
    # "quarantine" (default) or "skip": rows the filter leaves out are another entity's to
    # account for (an entity that derives extra records from a table another entity loads)
    where_outcome: str = "quarantine"
    soft_delete: str | None = None  # a source column, or `sql:<expression>`
    exclusions: tuple[Exclusion, ...] = ()
    personal: dict[str, str] = field(default_factory=dict)

    @property
    def schema(self) -> str:
        return self.source.split(".", 1)[0]

    @property
    def table(self) -> str:
        return self.source.split(".", 1)[1]

    @property
    def canonical(self) -> Target:
        return TARGETS[self.target]

    def column(self, target: str) -> ColumnSpec | None:
        return self._by_target.get(target)

    @cached_property
    def _by_target(self) -> dict[str, ColumnSpec]:
        return {c.target: c for c in self.columns}

    def source_columns(self) -> set[str]:
        """The source columns the entity reads by name (SQL expressions not parsed)."""
        used = {c.source for c in self.columns if c.source is not None}
        if self.tenant.column:
            used.add(self.tenant.column)
        if self.soft_delete and not self.soft_delete.startswith("sql:"):
            used.add(self.soft_delete)
        return used


@dataclass(frozen=True)
class Consolidation:
    target: str
    entities: tuple[str, ...]
    compare: tuple[str, ...]
    one_to_one: bool
    threshold: float
    survivorship: dict[str, str]


@dataclass(frozen=True)
class Mapping:
    name: str
    description: str
    vertical: str
    timezone: str
    phone_region: str
    entities: tuple[Entity, ...]
    consolidations: tuple[Consolidation, ...] = ()
    origin: str = ""

    def entity(self, name: str) -> Entity:
        for entity in self.entities:
            if entity.name == name:
                return entity
        raise MappingError(f"the mapping has no entity {name!r}")

    def consolidation_of(self, entity: str) -> Consolidation | None:
        return next((c for c in self.consolidations if entity in c.entities), None)


def builtin_names() -> list[str]:
    folder = resources.files(BUILTIN)
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml"))


def load_mapping(name_or_path: str) -> Mapping:
    """A built-in mapping by name, or a mapping file by path."""
    if _NAME.match(name_or_path) and name_or_path in builtin_names():
        text = (resources.files(BUILTIN) / f"{name_or_path}.toml").read_text(encoding="utf-8")
        return parse_mapping(text, origin=f"built-in mapping {name_or_path}")
    path = Path(name_or_path)
    if not path.is_file():
        known = ", ".join(builtin_names())
        raise MappingError(
            f"no mapping {name_or_path!r}: neither a built-in mapping ({known}) nor a file"
        )
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise MappingError(f"cannot read mapping file {path.name}: {exc}") from exc
    return parse_mapping(text, origin=path.name)


def parse_mapping(text: str, *, origin: str = "mapping") -> Mapping:
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise MappingError(f"{origin} is not valid TOML: {exc}") from exc
    head = _table(doc.get("mapping"), f"{origin}: [mapping]")
    name = _string(head.get("name"), f"{origin}: [mapping] name")
    if not _NAME.match(name):
        raise MappingError(f"{origin}: mapping name {name!r} must be lower-case letters, digits, _")
    entities = tuple(
        _entity(e, f"{origin}: entity #{i + 1}") for i, e in enumerate(doc.get("entity", []))
    )
    if not entities:
        raise MappingError(f"{origin}: the mapping has no [[entity]]")
    mapping = Mapping(
        name=name,
        description=str(head.get("description", "")),
        vertical=str(head.get("vertical", "other")),
        timezone=str(head.get("timezone", "UTC")),
        phone_region=str(head.get("phone_region", "DE")),
        entities=entities,
        consolidations=tuple(
            _consolidation(c, f"{origin}: consolidate #{i + 1}")
            for i, c in enumerate(doc.get("consolidate", []))
        ),
        origin=origin,
    )
    _check(mapping)
    return mapping


def _table(value: object, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise MappingError(f"{where} is missing or not a table")
    return value


def _string(value: object, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise MappingError(f"{where} must be a non-empty string")
    return value


def _choice(value: object, allowed: tuple[str, ...], where: str) -> str:
    if value not in allowed:
        raise MappingError(f"{where}: must be one of {', '.join(allowed)}")
    return str(value)


def _paths(value: object, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise MappingError(f"{where}: path must be a string or a list of strings")


def _column(target: str, raw: object, where: str) -> ColumnSpec:
    if isinstance(raw, str):
        return ColumnSpec(target=target, source=raw)
    if not isinstance(raw, dict):
        raise MappingError(f"{where}: column {target!r} must be a string or a table")
    unknown = set(raw) - _SPEC_KEYS
    if unknown:
        raise MappingError(f"{where}: column {target!r} has unknown keys {sorted(unknown)}")
    origins = [k for k in ("from", "sql", "value") if k in raw]
    if len(origins) != 1:
        raise MappingError(f"{where}: column {target!r} needs exactly one of from, sql, value")
    values = raw.get("values", {})
    if not isinstance(values, dict):
        raise MappingError(f"{where}: column {target!r} values must be a table")
    missing = str(raw.get("missing", "quarantine"))
    if missing not in {"quarantine", "null"}:
        raise MappingError(f"{where}: column {target!r} missing must be quarantine or null")
    return ColumnSpec(
        target=target,
        source=raw.get("from"),
        sql=raw.get("sql"),
        value=raw.get("value"),
        convert=raw.get("convert"),
        path=_paths(raw.get("path"), f"{where}: column {target!r}"),
        values={str(k).strip().lower(): str(v) for k, v in values.items()},
        default=None if raw.get("default") is None else str(raw["default"]),
        ref=raw.get("ref"),
        missing=missing,
        legacy_cipher=raw.get("legacy_cipher"),
        timezone=raw.get("timezone"),
        write_back=raw.get("write_back"),
    )


def _tenant(raw: object, where: str) -> TenantRule:
    if raw == "self":
        return TenantRule("self")
    if isinstance(raw, dict) and "ref" in raw:
        if "from" not in raw and "sql" not in raw:
            raise MappingError(f"{where}: tenant ref needs `from` (a source column) or `sql`")
        return TenantRule("ref", ref=str(raw["ref"]), column=raw.get("from"), sql=raw.get("sql"))
    if isinstance(raw, dict) and "slug" in raw:
        slug = str(raw["slug"])
        return TenantRule(
            "fixed", slug=slug, name=str(raw.get("name", slug)), vertical=raw.get("vertical")
        )
    raise MappingError(
        f'{where}: tenant must be "self", {{ ref = ..., from = ... }} or {{ slug = ... }}'
    )


def _entity(raw: object, where: str) -> Entity:
    doc = _table(raw, where)
    unknown = set(doc) - _ENTITY_KEYS
    if unknown:
        raise MappingError(f"{where}: unknown keys {sorted(unknown)}")
    name = _string(doc.get("name"), f"{where} name")
    where = f"{where.split(':')[0]}: entity {name}"
    source = _string(doc.get("source"), f"{where} source")
    if not _QUALIFIED.match(source):
        raise MappingError(f"{where}: source {source!r} must be schema.table")
    target = _string(doc.get("target"), f"{where} target")
    if target not in TARGETS:
        raise MappingError(
            f"{where}: target {target!r} is not a table tenantry loads ({', '.join(TARGETS)})"
        )
    key = doc.get("key", [])
    key = [key] if isinstance(key, str) else key
    columns = _table(doc.get("columns", {}), f"{where} columns")
    soft = doc.get("soft_delete")
    if isinstance(soft, dict):
        soft = "sql:" + _string(soft.get("sql"), f"{where} soft_delete.sql")
    exclusions = tuple(
        Exclusion(
            _string(e.get("sql"), f"{where} exclude.sql"),
            _string(e.get("reason"), f"{where} exclude.reason"),
        )
        for e in doc.get("exclude", [])
    )
    return Entity(
        name=name,
        source=source,
        target=target,
        key=tuple(str(k) for k in key),
        tenant=_tenant(doc.get("tenant", "self"), where),
        columns=tuple(_column(t, spec, where) for t, spec in columns.items()),
        optional=bool(doc.get("optional", False)),
        where=doc.get("where"),
        where_reason=str(doc.get("where_reason", "excluded by the mapping's filter")),
        where_outcome=_choice(
            doc.get("where_outcome", "quarantine"), ("quarantine", "skip"), where
        ),
        soft_delete=soft,
        exclusions=exclusions,
        personal={str(k): str(v) for k, v in _table(doc.get("personal", {}), where).items()},
    )


def _consolidation(raw: object, where: str) -> Consolidation:
    doc = _table(raw, where)
    entities = doc.get("entities", [])
    if not entities or not all(isinstance(e, str) for e in entities):
        raise MappingError(f"{where}: entities must list entity names")
    return Consolidation(
        target=_string(doc.get("target"), f"{where} target"),
        entities=tuple(entities),
        compare=tuple(doc.get("compare", ["name"])),
        one_to_one=bool(doc.get("one_to_one", False)),
        threshold=float(doc.get("threshold", 0.9)),
        survivorship={str(k): str(v) for k, v in doc.get("survivorship", {}).items()},
    )


def _check(mapping: Mapping) -> None:
    """Everything that can be checked without a source: names, targets, references, cards."""
    problems: list[str] = []
    names = [e.name for e in mapping.entities]
    for dup in {n for n in names if names.count(n) > 1}:
        problems.append(f"entity name {dup!r} is used twice")
    seen: set[str] = set()
    for entity in mapping.entities:
        target = entity.canonical
        if entity.tenant.kind == "self" and entity.target != "identity.tenants":
            problems.append(f"entity {entity.name}: only identity.tenants rows can be tenants")
        if entity.tenant.kind == "ref" and entity.tenant.ref not in seen:
            problems.append(
                f"entity {entity.name}: tenant ref {entity.tenant.ref!r} is not an entity "
                "listed before it"
            )
        for spec in entity.columns:
            where = f"entity {entity.name}, column {spec.target}"
            if spec.target not in target.writable:
                problems.append(f"{where}: {entity.target} has no such writable column")
            if spec.convert is not None and spec.convert not in CONVERSIONS:
                problems.append(f"{where}: unknown conversion {spec.convert!r}")
            if spec.convert == "enum" and not spec.values:
                problems.append(f"{where}: an enum conversion needs `values`")
            if spec.ref is not None and spec.ref not in names:
                problems.append(f"{where}: ref {spec.ref!r} is not an entity")
            if spec.legacy_cipher not in (None, "fernet"):
                problems.append(f'{where}: legacy_cipher must be "fernet"')
            if spec.source is not None and looks_like_card_data(spec.source):
                problems.append(f"{where}: {spec.source} holds card data, which is never imported")
        seen.add(entity.name)
    for group in mapping.consolidations:
        for column, rule in group.survivorship.items():
            if rule not in SURVIVORSHIP:
                problems.append(
                    f"consolidate {group.target}: survivorship {column} = {rule!r} is not one "
                    f"of {', '.join(SURVIVORSHIP)}"
                )
        for name in group.entities:
            if name not in names:
                problems.append(f"consolidate {group.target}: {name!r} is not an entity")
            elif mapping.entity(name).target != group.target:
                problems.append(f"consolidate {group.target}: entity {name} has another target")
    if problems:
        raise MappingError(f"{mapping.origin}: " + "; ".join(problems), problems=problems)
