"""`tenantry migrate ...`: move a legacy PostgreSQL database into tenantry.

Entry point only; the work is done by `tenantry.migrate`. Every command takes `--source URL`
(or `TENANTRY_MIGRATE_SOURCE_URL`, which keeps a password out of the process list) and
`--mapping M` (a built-in mapping name or a TOML file); `--run NAME` names the run when one
mapping moves several sources (default: the mapping's name). Output never contains personal
data or the source's password.
"""

from __future__ import annotations

import os
import re
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

import psycopg
import typer
from cryptography.fernet import Fernet
from psycopg.conninfo import conninfo_to_dict
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from tenantry.cli.common import database
from tenantry.cli.output import console, print_json, show, table
from tenantry.cli.params import OutputFormat, format_option
from tenantry.errors import ValidationError
from tenantry.migrate.convert import Context
from tenantry.migrate.cutover import cutover as run_cutover
from tenantry.migrate.cutover import rollback as run_rollback
from tenantry.migrate.follow import FollowReport, applier_lock, consistent_point
from tenantry.migrate.follow import follow as run_follow
from tenantry.migrate.load import load as run_load
from tenantry.migrate.load import owner_connection
from tenantry.migrate.mapping import Mapping, builtin_names, load_mapping
from tenantry.migrate.plan import make_plan
from tenantry.migrate.report import merges as merge_report
from tenantry.migrate.report import quarantine_rows, status_of
from tenantry.migrate.source import connect_source, describe, introspect
from tenantry.migrate.state import lsn_text
from tenantry.migrate.unmerge import unmerge as run_unmerge
from tenantry.migrate.verify import verify as verify_run

__all__ = ["app"]

app = typer.Typer(help="Move a legacy database into tenantry.", no_args_is_help=True)

_NAME = re.compile(r"[a-z][a-z0-9_]{0,40}")


def source_url(value: str) -> str:
    """A PostgreSQL connection URL or libpq `key=value` string (never echoed: it may hold a
    password)."""
    text = value.strip()
    url = re.match(r"^postgres(ql)?(\+psycopg)?://", text) is not None
    if not url and "=" not in text:
        raise typer.BadParameter("must be a PostgreSQL URL: postgresql://user:pass@host:port/db")
    try:
        conninfo_to_dict(text.replace("+psycopg", "", 1) if url else text)
    except psycopg.ProgrammingError:
        raise typer.BadParameter("is not a valid PostgreSQL connection URL") from None
    return text


def mapping_ref(value: str) -> str:
    """A built-in mapping's name or the path of a mapping file."""
    if value in builtin_names() or Path(value).is_file():
        return value
    raise typer.BadParameter(
        f"give a built-in mapping ({', '.join(builtin_names())}) or an existing TOML file"
    )


def run_name(value: str) -> str:
    if not _NAME.fullmatch(value):
        raise typer.BadParameter("must be lower-case letters, digits and _ (at most 41)")
    return value


def entity_name(value: str) -> str:
    if not re.fullmatch(r"[a-z][a-z0-9_]{0,62}", value):
        raise typer.BadParameter("must name an entity of the mapping (lower-case, digits, _)")
    return value


def fernet_key(value: str) -> str:
    try:
        Fernet(value.strip())
    except (ValueError, TypeError):
        raise typer.BadParameter(
            "must be a Fernet key (32 url-safe base64-encoded bytes)"
        ) from None
    return value.strip()


SourceOption = Annotated[
    str,
    typer.Option(
        "--source",
        envvar="TENANTRY_MIGRATE_SOURCE_URL",
        show_envvar=True,
        parser=source_url,
        help="PostgreSQL URL of the legacy database (postgresql://user:pass@host:port/db).",
    ),
]
MappingOption = Annotated[
    str,
    typer.Option(
        "--mapping",
        parser=mapping_ref,
        help="A built-in mapping (matbakh, carbot, myhibachi) or a TOML file.",
    ),
]
RunOption = Annotated[
    str | None,
    typer.Option("--run", parser=run_name, help="Name of the run (default: the mapping's name)."),
]
FernetOption = Annotated[
    list[str] | None,
    typer.Option(
        "--fernet-key",
        parser=fernet_key,
        help="A Fernet key that opens legacy ciphertext (repeatable; newest first). "
        "Also TENANTRY_MIGRATE_FERNET_KEYS, comma-separated.",
    ),
]


def _fernet_keys(given: list[str] | None) -> list[str]:
    keys = list(given or [])
    env = os.environ.get("TENANTRY_MIGRATE_FERNET_KEYS", "")
    keys.extend(k.strip() for k in env.split(",") if k.strip())
    return keys


def _mapping(name: str) -> Mapping:
    return load_mapping(name)


@app.command()
def plan(
    source: SourceOption,
    mapping: MappingOption,
    fernet_key: FernetOption = None,
    fmt: OutputFormat = format_option(),
) -> None:
    """Show what maps where, row counts, unused and personal columns, expected duplicates.

    Exits 1 with the list of problems when the mapping does not fit the source.
    """
    m = _mapping(mapping)
    with connect_source(source, autocommit=True) as conn:
        tables = introspect(conn)
        ctx = Context(m.timezone, m.phone_region, tuple(_fernet_keys(fernet_key)))
        result = make_plan(conn, m, tables, describe(source), ctx)
    if fmt is OutputFormat.JSON:
        print_json(result.as_json())
    else:
        out = table(
            "entity",
            "source",
            "target",
            "rows",
            "sealed",
            "unused columns",
            title=f"Plan: {m.name} from {result.source}",
        )
        for e in result.entities:
            out.add_row(
                e.name,
                e.source + ("" if e.present else " (absent)"),
                e.target,
                str(e.rows),
                ", ".join(e.sealed),
                ", ".join(e.unused),
            )
        show(out)
        personal = table("entity", "column", "what happens", title="Personal data not imported")
        for e in result.entities:
            for column, what in e.personal_unmapped.items():
                personal.add_row(e.name, column, what)
            for column in e.card_data:
                personal.add_row(e.name, column, "never imported (card data)")
        show(personal)
        if result.duplicates:
            console().print(
                "Expected duplicates: "
                + ", ".join(f"{k}: {v}" for k, v in result.duplicates.items())
            )
        if result.unmapped_tables:
            console().print("Tables no entity reads: " + ", ".join(result.unmapped_tables))
    if not result.fits:
        raise ValidationError(
            f"the mapping does not fit the source ({len(result.problems)} problems): "
            + "; ".join(result.problems)
        )


@app.command()
def load(
    source: SourceOption,
    mapping: MappingOption,
    run: RunOption = None,
    fernet_key: FernetOption = None,
    no_cdc: Annotated[
        bool,
        typer.Option(
            "--no-cdc",
            help="A one-off copy: no replication slot, so the run cannot be followed. "
            "Needed when the source has no logical replication.",
        ),
    ] = False,
    fmt: OutputFormat = format_option(),
) -> None:
    """Full load from one consistent snapshot; a rerun after a crash continues where it was.

    Creates the replication slot `follow` reads (the source needs wal_level = logical, or
    --no-cdc)."""
    m = _mapping(mapping)
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console(stderr=True),
        transient=True,
        disable=fmt is OutputFormat.JSON,
    )
    tasks: dict[str, Any] = {}

    def progress(entity: str, done: int, total: int) -> None:
        if entity not in tasks:
            tasks[entity] = bar.add_task(entity, total=total)
        bar.update(tasks[entity], completed=done)

    with database() as db, bar:
        report = run_load(
            db,
            source,
            m,
            run=run,
            fernet_keys=_fernet_keys(fernet_key),
            progress=progress,
            cdc=not no_cdc,
        )
    if fmt is OutputFormat.JSON:
        print_json(
            {
                "run": report.run,
                "already_loaded": report.already_loaded,
                "rows": report.rows,
                "seconds": round(report.seconds, 3),
                "counts": report.counts,
            }
        )
        return
    out = table("entity", "loaded", "merged", "quarantined", title=f"Load {report.run}")
    for entity, counts in report.counts.items():
        out.add_row(entity, *(str(counts.get(k, 0)) for k in ("loaded", "merged", "quarantined")))
    show(out)
    if report.already_loaded:
        console().print("The run was loaded before; nothing to do.")
    else:
        rate = f"{report.rows_per_second:,.0f} rows/s"
        console().print(f"{report.rows} source rows in {report.seconds:.1f} s ({rate})")


@app.command()
def status(
    mapping: MappingOption,
    run: RunOption = None,
    source: Annotated[
        str | None,
        typer.Option(
            "--source",
            envvar="TENANTRY_MIGRATE_SOURCE_URL",
            parser=source_url,
            help="The legacy database: with it, the lag is measured live at the source.",
        ),
    ] = None,
    fmt: OutputFormat = format_option(),
) -> None:
    """Phase, counts per entity, replication lag and the last verification of a run."""
    m = _mapping(mapping)
    with database() as db, owner_connection(db) as conn:
        info = status_of(conn, run or m.name, source)
    if fmt is OutputFormat.JSON:
        print_json(info)
        return
    console().print(f"Run {info['run']}: phase {info['phase']} (source {info['source']})")
    out = table("entity", "loaded", "merged", "quarantined", title="Rows")
    for entity, counts in info["counts"].items():
        out.add_row(entity, *(str(counts.get(k, 0)) for k in ("loaded", "merged", "quarantined")))
    show(out)
    for label, key in (
        ("applied up to", "applied_lsn"),
        ("cutover", "cutover_at"),
        ("last verify", "last_verify"),
    ):
        if info.get(key) is not None:
            console().print(f"{label}: {info[key]}")


@app.command()
def quarantine(
    mapping: MappingOption,
    run: RunOption = None,
    entity: Annotated[
        str | None, typer.Option(parser=entity_name, help="Only this entity.")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=100_000)] = 200,
    fmt: OutputFormat = format_option(),
) -> None:
    """The quarantined source rows with their reasons."""
    m = _mapping(mapping)
    with database() as db, owner_connection(db) as conn:
        rows = quarantine_rows(conn, run or m.name, entity, limit)
    if fmt is OutputFormat.JSON:
        print_json(rows)
        return
    out = table("entity", "source key", "reason", title="Quarantine")
    for r in rows:
        out.add_row(r["entity"], r["source_key"], r["reason"])
    show(out)


@app.command()
def verify(
    source: SourceOption,
    mapping: MappingOption,
    run: RunOption = None,
    fernet_key: FernetOption = None,
    fmt: OutputFormat = format_option(),
) -> None:
    """Prove that source and target agree; exit 0 only when they do, else name the rows."""
    m = _mapping(mapping)
    name = run or m.name
    keys = _fernet_keys(fernet_key)
    with database() as db, applier_lock(db, name):
        at = consistent_point(db, source, m, name, keys)
        report = verify_run(db, source, m, run=name, fernet_keys=keys, at=at)
    if fmt is OutputFormat.JSON:
        print_json(report.as_json())
    else:
        out = table("entity", "source", "target", "differing", title=f"Verify {report.run}")
        for entity, counts in report.counts.items():
            out.add_row(entity, *(str(counts[k]) for k in ("source", "target", "differing")))
        show(out)
        if report.differences:
            diff = table("entity", "source key", "canonical id", "column", "difference")
            for d in report.differences:
                diff.add_row(d.entity, d.source_key, d.canonical_id or "", d.column or "", d.kind)
            show(diff)
        rate = f"{report.rows_per_second:,.0f} rows/s"
        verdict = "equal" if report.equal else f"{report.differences_total} rows differ"
        console().print(f"{verdict}; {report.rows} source rows in {report.seconds:.1f} s ({rate})")
    if not report.equal:
        raise typer.Exit(1)


@app.command()
def follow(
    source: SourceOption,
    mapping: MappingOption,
    run: RunOption = None,
    fernet_key: FernetOption = None,
    until_caught_up: Annotated[
        bool, typer.Option("--until-caught-up", help="Stop once no change is pending.")
    ] = False,
    seconds: Annotated[
        float | None,
        typer.Option(min=0.1, max=365 * 24 * 3600, help="Stop after this many seconds."),
    ] = None,
    fmt: OutputFormat = format_option(),
) -> None:
    """Apply the source's changes (logical replication) until stopped (Ctrl-C), caught up,
    or --seconds have passed; shows the lag in bytes and seconds."""
    m = _mapping(mapping)
    err = console(stderr=True)

    def shown(report: FollowReport) -> None:
        if fmt is OutputFormat.TABLE and report.transactions:
            lag = report.lag_seconds[-1] if report.lag_seconds else 0.0
            err.print(
                f"applied {report.transactions} transactions ({report.changes} rows); "
                f"lag {report.lag_bytes} bytes, {lag:.2f} s",
                end="\r",
            )

    with database() as db:
        try:
            report = run_follow(
                db,
                source,
                m,
                run=run,
                fernet_keys=_fernet_keys(fernet_key),
                until_caught_up=until_caught_up,
                seconds=seconds,
                on_batch=shown,
            )
        except KeyboardInterrupt:
            console(stderr=True).print("stopped")
            return
    data = {
        "transactions": report.transactions,
        "changes": report.changes,
        "applied_lsn": None if report.applied_lsn is None else lsn_text(report.applied_lsn),
        "lag_bytes": report.lag_bytes,
        "seconds": round(report.seconds, 3),
    }
    if fmt is OutputFormat.JSON:
        print_json(data)
    else:
        console().print(
            f"applied {data['transactions']} transactions ({data['changes']} rows) up to "
            f"{data['applied_lsn']}; lag {data['lag_bytes']} bytes"
        )


@app.command()
def cutover(
    source: SourceOption,
    mapping: MappingOption,
    run: RunOption = None,
    fernet_key: FernetOption = None,
    rollback_minutes: Annotated[
        float,
        typer.Option(min=0, max=7 * 24 * 60, help="Minutes `migrate rollback` stays possible."),
    ] = 5.0,
    fmt: OutputFormat = format_option(),
) -> None:
    """Fence writes on the source, apply what is left, verify, record the switch.

    Exits 1 (and lifts the fence again) when source and target differ.
    """
    m = _mapping(mapping)
    with database() as db:
        report = run_cutover(
            db,
            source,
            m,
            run=run,
            fernet_keys=_fernet_keys(fernet_key),
            window=timedelta(minutes=rollback_minutes),
        )
    verified = report.verified
    data = {
        "run": report.run,
        "switched": report.switched,
        "fenced_tables": report.fenced,
        "cutover_at": None if report.cutover_at is None else report.cutover_at.isoformat(),
        "rollback_until": None
        if report.rollback_until is None
        else report.rollback_until.isoformat(),
        "verify": None if verified is None else verified.as_json(),
    }
    if fmt is OutputFormat.JSON:
        print_json(data)
    elif report.switched:
        console().print(
            f"cut over at {data['cutover_at']}; {len(report.fenced)} source tables fenced; "
            f"rollback possible until {data['rollback_until']}"
        )
    if not report.switched:
        total = 0 if verified is None else verified.differences_total
        raise ValidationError(
            f"cutover refused: {total} rows differ (see `tenantry migrate verify`); "
            "the source is writable again"
        )


@app.command()
def rollback(
    source: SourceOption,
    mapping: MappingOption,
    run: RunOption = None,
    fernet_key: FernetOption = None,
    fmt: OutputFormat = format_option(),
) -> None:
    """Within the rollback window: write tenantry's changes since the cutover back into the
    legacy tables and lift the fence, so the old application can take over again."""
    m = _mapping(mapping)
    with database() as db:
        report = run_rollback(db, source, m, run=run, fernet_keys=_fernet_keys(fernet_key))
    data = {
        "run": report.run,
        "updated": report.updated,
        "inserted": report.inserted,
        "deleted": report.deleted,
        "columns_not_written_back": {k: v for k, v in report.skipped_columns.items() if v},
    }
    if fmt is OutputFormat.JSON:
        print_json(data)
        return
    out = table("entity", "updated", "inserted", "deleted", title=f"Rollback {report.run}")
    for entity in sorted({*report.updated, *report.inserted, *report.deleted}):
        out.add_row(
            entity,
            str(report.updated.get(entity, 0)),
            str(report.inserted.get(entity, 0)),
            str(report.deleted.get(entity, 0)),
        )
    show(out)
    console().print("the legacy application may write again")


@app.command()
def merges(
    mapping: MappingOption,
    run: RunOption = None,
    limit: Annotated[int, typer.Option(min=1, max=100_000)] = 100,
    fmt: OutputFormat = format_option(),
) -> None:
    """The merge report: consolidated records, their source rows and what each supplied."""
    m = _mapping(mapping)
    with database() as db, owner_connection(db) as conn:
        records = merge_report(conn, run or m.name, limit)
    if fmt is OutputFormat.JSON:
        print_json(records)
        return
    out = table("record", "entity", "source key", "outcome", "supplied", title="Merges")
    for record in records:
        for member in record["members"]:
            out.add_row(
                record["id"],
                member["entity"],
                member["source_key"],
                member["outcome"],
                ", ".join(member["supplied"]),
            )
    show(out)


@app.command()
def unmerge(
    source: SourceOption,
    mapping: MappingOption,
    entity: Annotated[
        str, typer.Option(parser=entity_name, help="The entity of the merged source row.")
    ],
    key: Annotated[str, typer.Option(help="The source key of the merged row.")],
    run: RunOption = None,
    fernet_key: FernetOption = None,
    fmt: OutputFormat = format_option(),
) -> None:
    """Take one merged source row out of its consolidated record again."""
    m = _mapping(mapping)
    with database() as db:
        report = run_unmerge(
            db, source, m, entity, key, run=run, fernet_keys=_fernet_keys(fernet_key)
        )
    data = {
        "entity": report.entity,
        "source_key": report.source_key,
        "record": str(report.record),
        "new_record": str(report.new_record),
        "columns_recomputed": report.columns_recomputed,
        "references_moved": report.references_moved,
    }
    if fmt is OutputFormat.JSON:
        print_json(data)
        return
    console().print(
        f"{report.entity} {report.source_key} is record {report.new_record} again "
        f"(was merged into {report.record}; {len(report.columns_recomputed)} columns "
        f"recomputed, {report.references_moved} references moved)"
    )
