"""Alembic environment: runs migrations on the connection `tenantry.db.migrate` hands over,
or, when invoked through the `alembic` command, on the configured database as the owner."""

from __future__ import annotations

from collections.abc import Mapping

from alembic import context
from sqlalchemy import create_engine

from tenantry.db.migrate import VERSION_SCHEMA, prepare_version_table
from tenantry.models import SCHEMAS, Base
from tenantry.models.audit import is_partition

config = context.config
target_metadata = Base.metadata


def _include_name(name: str | None, type_: str, parent_names: object) -> bool:
    if type_ == "schema":
        return name in SCHEMAS
    if type_ == "table":
        # Partitions of audit.log are created at run time and unknown to the models.
        schema = parent_names.get("schema_name") if isinstance(parent_names, Mapping) else None
        return not is_partition(schema, name)
    return True


def _configure(connection: object) -> None:
    context.configure(
        connection=connection,  # type: ignore[arg-type]
        target_metadata=target_metadata,
        include_schemas=True,
        include_name=_include_name,
        compare_type=True,
        compare_server_default=False,
        version_table_schema=VERSION_SCHEMA,
        transaction_per_migration=True,
    )


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    from tenantry.config import get_settings
    from tenantry.db.provider import ensure_database

    target = ensure_database(get_settings())
    engine = create_engine(target.owner_url)
    with engine.connect() as conn:
        prepare_version_table(conn)
        _configure(conn)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported; run `tenantry db upgrade`")
run_migrations_online()
