"""One entity's source rows -> canonical values, or a quarantine reason.

`Reader` compiles the entity's SELECT: every value as text (the key, each mapped column or SQL
expression, the tenant reference, the soft-delete flag, the filter and the exclusions), in key
order, optionally after a key (resuming) or for given keys (change capture, verification).
`Transformer` turns one such row into a `Prepared` row (target column -> value, references
still as source keys) or a `Rejected` one with a reason that names the column and what was
wrong, never the value. The same code serves load, follow and verify, so they agree on meaning.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from psycopg import sql

from tenantry.migrate.convert import (
    BY_KIND,
    CONVERSIONS,
    Context,
    UnconvertibleError,
    enum_value,
    extract_path,
    mask_card_numbers,
    open_fernet,
)
from tenantry.migrate.mapping import ColumnSpec, Entity, Mapping
from tenantry.migrate.source import SourceTable
from tenantry.migrate.targets import Column

__all__ = ["Prepared", "Reader", "Rejected", "Transformer", "key_text", "user_sql"]


def user_sql(text: str) -> sql.SQL:
    """A mapping's SQL expression as a query part: `%` doubled, because queries built from it
    always run with parameters (psycopg then reads `%%` as one `%`)."""
    return sql.SQL(text.replace("%", "%%"))


def key_text(parts: Sequence[str | None]) -> str:
    """A source key as one text: the value itself, or a JSON array for composite keys."""
    if len(parts) == 1:
        return "" if parts[0] is None else parts[0]
    return json.dumps(list(parts), ensure_ascii=False)


def key_parts(key: str, width: int) -> list[str]:
    return [key] if width == 1 else [str(p) for p in json.loads(key)]


@dataclass
class Prepared:
    key: str
    values: dict[str, Any]
    refs: dict[str, tuple[str, str]] = field(default_factory=dict)  # column -> (entity, key)
    tenant_ref: tuple[str, str] | None = None  # (entity, key) whose tenant this row takes
    deleted: bool = False


@dataclass
class Rejected:
    key: str
    reason: str
    skip: bool = False  # not this entity's row to account for (a derived entity's filter)


class Reader:
    """The compiled SELECT of one entity over its source table (alias `t`)."""

    def __init__(self, entity: Entity, table: SourceTable) -> None:
        self.entity = entity
        self.key = entity.key or table.primary_key
        if not self.key:
            raise ValueError(f"{entity.source} has no primary key; give the entity a `key`")
        self.key_types = tuple(table.columns[k] for k in self.key)
        exprs: list[sql.Composable] = [
            sql.SQL("t.{}::text").format(sql.Identifier(k)) for k in self.key
        ]
        self.slots: dict[str, int] = {}

        def slot(name: str, expr: sql.Composable) -> None:
            self.slots[name] = len(exprs)
            exprs.append(expr)

        for spec in entity.columns:
            if spec.source is not None:
                slot(
                    f"col:{spec.target}", sql.SQL("t.{}::text").format(sql.Identifier(spec.source))
                )
            elif spec.sql is not None:
                slot(f"col:{spec.target}", sql.SQL("({})::text").format(user_sql(spec.sql)))
        rule = entity.tenant
        if rule.kind == "ref":
            expr = (
                sql.SQL("t.{}::text").format(sql.Identifier(rule.column))
                if rule.column
                else sql.SQL("({})::text").format(user_sql(rule.sql or "NULL"))
            )
            slot("tenant", expr)
        if entity.soft_delete:
            if entity.soft_delete.startswith("sql:"):
                expr = sql.SQL("coalesce(({}), false)").format(user_sql(entity.soft_delete[4:]))
            else:
                expr = sql.SQL("(t.{} IS NOT NULL)").format(sql.Identifier(entity.soft_delete))
            slot("deleted", expr)
        if entity.where:
            slot("where", sql.SQL("coalesce(({}), false)").format(user_sql(entity.where)))
        for i, exclusion in enumerate(entity.exclusions):
            slot(f"exclude:{i}", sql.SQL("coalesce(({}), false)").format(user_sql(exclusion.sql)))
        self._select = sql.SQL("SELECT {} FROM {}.{} AS t").format(
            sql.SQL(", ").join(exprs),
            sql.Identifier(entity.schema),
            sql.Identifier(entity.table),
        )
        self._order = sql.SQL(" ORDER BY {}").format(
            sql.SQL(", ").join(sql.SQL("t.{}").format(sql.Identifier(k)) for k in self.key)
        )

    def _typed_params(self) -> sql.Composable:
        return sql.SQL(", ").join(
            sql.SQL("CAST({} AS {})").format(sql.Placeholder(), sql.SQL(t)) for t in self.key_types
        )

    def _key_tuple(self) -> sql.Composable:
        return sql.SQL("({})").format(
            sql.SQL(", ").join(sql.SQL("t.{}").format(sql.Identifier(k)) for k in self.key)
        )

    def scan(
        self, after: Sequence[str] | None = None, part: tuple[int, int] | None = None
    ) -> sql.Composed:
        """Every row in key order (after the key `after`, when resuming); with `part` = (i, n)
        only the i-th of n partitions by a hash of the key."""
        where: list[sql.Composable] = []
        if after is not None:
            where.append(sql.SQL("{} > ({})").format(self._key_tuple(), self._typed_params()))
        if part is not None:
            key = sql.SQL(" || '|' || ").join(
                sql.SQL("t.{}::text").format(sql.Identifier(k)) for k in self.key
            )
            where.append(
                sql.SQL("mod(abs(hashtext({})::bigint), {}) = {}").format(
                    key, sql.Literal(part[1]), sql.Literal(part[0])
                )
            )
        if not where:
            return self._select + self._order
        return self._select + sql.SQL(" WHERE ") + sql.SQL(" AND ").join(where) + self._order

    def by_keys(self) -> sql.Composed:
        """The rows whose key is one of `%s` (a list of key texts; single-column keys only
        compare as text, composite ones as their JSON form)."""
        if len(self.key) == 1:
            return self._select + sql.SQL(" WHERE t.{}::text = ANY(%s)").format(
                sql.Identifier(self.key[0])
            )
        parts = sql.SQL(", ").join(
            sql.SQL("t.{}::text").format(sql.Identifier(k)) for k in self.key
        )
        return self._select + sql.SQL(" WHERE json_build_array({})::text = ANY(%s)").format(parts)

    def key_of(self, row: Sequence[str | None]) -> str:
        return key_text(row[: len(self.key)])

    def value(self, row: Sequence[Any], name: str) -> Any:
        index = self.slots.get(name)
        return None if index is None else row[index]


class Transformer:
    """Applies an entity's column specs to rows of its `Reader`."""

    def __init__(self, mapping: Mapping, entity: Entity, reader: Reader, ctx: Context) -> None:
        self.mapping = mapping
        self.entity = entity
        self.reader = reader
        self.ctx = ctx
        self.target = entity.canonical
        self.columns = self.target.by_name
        self.required = sorted(self.target.required)
        self.filled = self._ref_columns()
        # Per column spec: where its text is in a row (None: a constant), computed once.
        self.specs = [
            (spec, reader.slots.get(f"col:{spec.target}") if spec.reads_source else None)
            for spec in entity.columns
        ]
        self.excludes = [
            (reader.slots[f"exclude:{i}"], e.reason) for i, e in enumerate(entity.exclusions)
        ]

    def __call__(self, row: Sequence[Any]) -> Prepared | Rejected:
        reader, entity = self.reader, self.entity
        key = reader.key_of(row)
        for at, reason in self.excludes:
            if row[at] in ("t", True):
                return Rejected(key, reason)
        if "where" in reader.slots and reader.value(row, "where") not in (True, "t"):
            return Rejected(
                key, f"filtered: {entity.where_reason}", skip=entity.where_outcome == "skip"
            )
        prepared = Prepared(key, {})
        if entity.tenant.kind == "ref":
            tenant_key = reader.value(row, "tenant")
            if tenant_key is None or not str(tenant_key).strip():
                return Rejected(key, "no tenant: the tenant reference is empty")
            prepared.tenant_ref = (entity.tenant.ref or "", str(tenant_key))
        prepared.deleted = reader.value(row, "deleted") in (True, "t")
        for spec, index in self.specs:
            raw = spec.value if index is None else row[index]
            try:
                value = self._convert(spec, raw)
            except UnconvertibleError as exc:
                return Rejected(key, f"{entity.source} column {self._origin(spec)}: value {exc}")
            if spec.ref is not None:
                if value is not None:
                    prepared.refs[spec.target] = (spec.ref, str(value))
                continue
            if value is not None:
                prepared.values[spec.target] = value
        missing = self._fill_defaults(prepared.values)
        if missing:
            return Rejected(key, f"no value for required {self.target.name}.{missing}")
        return prepared

    @staticmethod
    def _origin(spec: ColumnSpec) -> str:
        return spec.source or (f"{spec.target} (SQL expression)" if spec.sql else spec.target)

    def _convert(self, spec: ColumnSpec, raw: Any) -> Any:
        if raw is None:
            return self._fallback(spec)
        text = (
            raw
            if isinstance(raw, str)
            else str(raw)
            if not isinstance(raw, bool)
            else ("t" if raw else "f")
        )
        if spec.legacy_cipher == "fernet":
            text = open_fernet(text, self.ctx)
        if spec.path:
            extracted = extract_path(text, spec.path)
            if extracted is None:
                return self._fallback(spec)
            text = extracted
        if not text.strip() and spec.convert not in ("json",):
            return self._fallback(spec)
        if spec.ref is not None:
            return text.strip()
        column = self.columns[spec.target]
        if spec.convert == "enum":
            value: Any = enum_value(text, spec.values, spec.default)
        elif spec.convert is not None:
            value = CONVERSIONS[spec.convert](text, self.ctx, spec.timezone)
        elif column.kind in BY_KIND:
            value = CONVERSIONS[BY_KIND[column.kind]](text, self.ctx, spec.timezone)
        elif column.kind == "numeric":
            value = CONVERSIONS["numeric_to_cents"](text, self.ctx, None) / Decimal(100)
        else:
            value = text.strip() if column.kind != "sealed" else text
        return self._check(column, value)

    def _fallback(self, spec: ColumnSpec) -> Any:
        if spec.convert == "enum" and spec.default is not None:
            return spec.default
        return None

    def _check(self, column: Column, value: Any) -> Any:
        if value is None:
            return None
        if column.enum_values:
            text = str(value).strip().lower()
            if text not in column.enum_values:
                raise UnconvertibleError(f"is not one of {', '.join(column.enum_values)}")
            return text
        if isinstance(value, str):
            value = mask_card_numbers(value)  # card numbers never enter, in any column
            limit = column.sealed.max_length if column.sealed is not None else column.max_length
            if limit is not None and len(value) > limit:
                raise UnconvertibleError(f"is longer than {limit} characters")
            exact = column.sealed.exact_length if column.sealed is not None else None
            if exact is not None and len(value) != exact:
                raise UnconvertibleError(f"does not have exactly {exact} characters")
        return value

    def _fill_defaults(self, values: dict[str, Any]) -> str | None:
        """Engine defaults for obvious required columns; the first still missing, if any."""
        table = self.target.name
        if table in ("identity.tenants", "identity.locations"):
            values.setdefault("vertical", self.mapping.vertical)
        if table == "identity.tenants":
            name = values.get("legal_name") or values.get("display_name")
            if name:
                values.setdefault("legal_name", name)
                values.setdefault("display_name", name)
            values.setdefault("legal_form", "other")
        for column in self.required:
            if column == "slug" and column not in values:
                base = values.get("name") or values.get("display_name") or values.get("legal_name")
                if base:
                    try:
                        values["slug"] = CONVERSIONS["slug"](str(base), self.ctx, None)
                    except UnconvertibleError:
                        digest = hashlib.sha256(str(base).encode()).hexdigest()[:10]
                        values["slug"] = f"x-{digest}"
            if column not in values and column not in self.filled:
                return column
        return None

    def _ref_columns(self) -> set[str]:
        """Columns filled after transformation: references, and a fixed tenant's location."""
        filled = {s.target for s in self.entity.columns if s.ref is not None}
        return filled | ({"location_id"} if self.entity.tenant.kind == "fixed" else set())
