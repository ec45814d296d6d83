"""Bulk batches in the audit trail: a bulk load appends one chained entry per table, not per row.

A session logged in as `tenantry_owner` (or a member of it, such as the admin of an external
server that switches to it, or a superuser) that sets the transaction-local
setting `tenantry.audit_bulk_batch` to a batch id inserts without per-row entries: the insert
trigger `audit.record_rows` instead writes one leaf per inserted row into `audit.bulk_rows`
(SHA-256 of the row's `to_jsonb(row)::text`, see `tenantry.audit.bulk`) and registers the
(tenant, batch, table) in `audit.bulk_batches`. `audit.seal_bulk_batch` then appends one
entry with op `B` to the tenant's hash chain, through the same canonical encoding as every
other entry; its `new_values` hold the batch id, the source, the row count, the table's
columns and the Merkle root of the leaves (computed by the caller, re-computed by verify).
A deferred constraint trigger refuses the commit of a batch that was not sealed, and a sealed
batch takes no more rows. A session of `tenantry_app` that sets the setting gets an error: it
can never skip the per-row entries. Both new tables are append-only like `audit.log`.

The new body of `audit.record_rows` is migration 0100's with the bulk branch put in front of
the per-row path; downgrade restores 0100's text exactly (and refuses while `B` entries exist,
which the old check constraint would reject).

Revision ID: 0410
Revises: 0400
Create Date: 2026-12-06
"""

from __future__ import annotations

import functools
import importlib.util
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

from alembic import op

revision: str = "0410"
down_revision: str | None = "0400"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APP = "tenantry_app"
OWNER = "tenantry_owner"
CURRENT_TENANT = "NULLIF(current_setting('tenantry.tenant_id', true), '')::uuid"


@functools.cache
def _trail() -> ModuleType:
    """Migration 0100 (frozen): its trigger text and its hash expression are reused verbatim."""
    path = Path(__file__).with_name("2026_11_22_0100_audit_trail.py")
    spec = importlib.util.spec_from_file_location("tenantry_migration_0100", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


TABLES = """
CREATE TABLE audit.bulk_batches (
    tenant_id uuid NOT NULL,
    batch_id uuid NOT NULL,
    table_name text NOT NULL,
    opened_at timestamptz NOT NULL,
    CONSTRAINT pk_bulk_batches PRIMARY KEY (tenant_id, batch_id, table_name)
);

CREATE TABLE audit.bulk_rows (
    tenant_id uuid NOT NULL,
    batch_id uuid NOT NULL,
    table_name text NOT NULL,
    row_id text COLLATE "C" NOT NULL,
    leaf bytea NOT NULL,
    CONSTRAINT pk_bulk_rows PRIMARY KEY (tenant_id, batch_id, table_name, row_id)
);
"""

# Put in front of the per-row path of `audit.record_rows` (static SQL: planned once per table).
BULK_BRANCH = f"""
    IF TG_OP = 'INSERT'
       AND coalesce(current_setting('tenantry.audit_bulk_batch', true), '') <> '' THEN
        DECLARE
            v_batch uuid;
        BEGIN
            IF NOT pg_has_role(session_user, '{OWNER}', 'MEMBER') THEN
                RAISE EXCEPTION 'only {OWNER} may insert in a bulk batch (role %)', session_user
                    USING ERRCODE = 'insufficient_privilege';
            END IF;
            v_batch := current_setting('tenantry.audit_bulk_batch')::uuid;
            INSERT INTO audit.bulk_batches (tenant_id, batch_id, table_name, opened_at)
            SELECT DISTINCT x.tenant_id, v_batch, v_table, clock_timestamp() FROM audit_new x
            ON CONFLICT DO NOTHING;
            IF EXISTS (SELECT 1 FROM audit.log l
                        WHERE l.tenant_id IN (SELECT DISTINCT x.tenant_id FROM audit_new x)
                          AND l.table_name = v_table AND l.row_id = v_batch::text
                          AND l.op = 'B') THEN
                RAISE EXCEPTION 'bulk batch % is already sealed for %', v_batch, v_table
                    USING ERRCODE = 'object_not_in_prerequisite_state';
            END IF;
            INSERT INTO audit.bulk_rows (tenant_id, batch_id, table_name, row_id, leaf)
            SELECT (s.j ->> 'tenant_id')::uuid, v_batch, v_table, audit.row_key(s.j, TG_ARGV),
                   sha256(convert_to(s.j::text, 'UTF8'))
              FROM (SELECT to_jsonb(x) AS j FROM audit_new x) s;
            RETURN NULL;
        END;
    END IF;
"""
ANCHOR = "    -- Static SQL only: PL/pgSQL keeps one compiled copy"


def _record_rows(with_bulk: bool) -> str:
    text: str = _trail().RECORD
    head = "CREATE FUNCTION audit.record_rows()"
    assert text.count(head) == 1
    assert text.count(ANCHOR) == 1
    text = "CREATE OR REPLACE FUNCTION audit.record_rows()" + text.split(head, 1)[1]
    return text.replace(ANCHOR, BULK_BRANCH + ANCHOR) if with_bulk else text


def _seal() -> str:
    entry_hash = _trail()._entry_hash(
        "v_row_id", "'B'", "v_changed", "v_redacted", "NULL::jsonb", "v_new_values"
    )
    genesis = _trail().GENESIS
    return f"""
CREATE FUNCTION audit.seal_bulk_batch(
    p_tenant uuid, p_batch uuid, p_table text, p_source text, p_root bytea
) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_table text := p_table;
    v_tenant uuid := p_tenant;
    v_row_id text := p_batch::text;
    v_rows bigint;
    v_columns text[];
    v_changed text[];
    v_redacted text[];
    v_new_values jsonb;
    v_actor text;
    v_txid bigint := txid_current();
    v_at timestamptz;
    v_seq bigint;
    v_prev bytea;
    v_hash bytea;
BEGIN
    IF NOT pg_has_role(session_user, '{OWNER}', 'MEMBER') THEN
        RAISE EXCEPTION 'only {OWNER} may seal a bulk batch' USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF p_root IS NULL OR length(p_root) <> 32 OR p_source IS NULL THEN
        RAISE EXCEPTION 'a bulk batch is sealed with a 32-byte root and a source'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM audit.bulk_batches b WHERE b.tenant_id = v_tenant
                   AND b.batch_id = p_batch AND b.table_name = v_table) THEN
        RAISE EXCEPTION 'bulk batch % has no rows in %', p_batch, v_table
            USING ERRCODE = 'no_data_found';
    END IF;
    -- Taken first: a second seal of the same batch waits here, then sees the first one's entry.
    SELECT h.seq, h.head_hash INTO v_seq, v_prev
      FROM audit.chain_heads h WHERE h.tenant_id = v_tenant FOR UPDATE;
    IF NOT FOUND THEN
        INSERT INTO audit.chain_heads (tenant_id, seq, head_hash, base_seq, base_hash)
        VALUES (v_tenant, 0, {genesis}, 0, {genesis})
        ON CONFLICT (tenant_id) DO NOTHING;
        SELECT h.seq, h.head_hash INTO v_seq, v_prev
          FROM audit.chain_heads h WHERE h.tenant_id = v_tenant FOR UPDATE;
    END IF;
    IF EXISTS (SELECT 1 FROM audit.log l WHERE l.tenant_id = v_tenant
               AND l.table_name = v_table AND l.row_id = v_row_id AND l.op = 'B') THEN
        RAISE EXCEPTION 'bulk batch % is already sealed for %', p_batch, v_table
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    SELECT count(*) INTO v_rows FROM audit.bulk_rows r
     WHERE r.tenant_id = v_tenant AND r.batch_id = p_batch AND r.table_name = v_table;
    SELECT array_agg(a.attname::text ORDER BY a.attnum) INTO v_columns
      FROM pg_attribute a
     WHERE a.attrelid = v_table::regclass AND a.attnum > 0 AND NOT a.attisdropped;
    v_changed := ARRAY(SELECT c FROM unnest(v_columns) c ORDER BY c COLLATE "C");
    v_redacted := ARRAY(SELECT c FROM unnest(v_changed) c
                         WHERE c IN (SELECT r.column_name FROM audit.redacted_columns r
                                      WHERE r.table_name = v_table)
                         ORDER BY c COLLATE "C");
    v_new_values := jsonb_build_object(
        'batch_id', p_batch, 'source', p_source, 'rows', v_rows,
        'merkle_root', encode(p_root, 'hex'), 'columns', to_jsonb(v_columns));
    v_actor := coalesce(
        nullif(current_setting('tenantry.actor', true), ''), 'db:' || session_user
    );
    v_seq := v_seq + 1;
    v_at := clock_timestamp();
    v_hash := {entry_hash};
    INSERT INTO audit.log (
        tenant_id, seq, recorded_at, txid, table_name, row_id, op, actor,
        changed_columns, redacted_columns, old_values, new_values,
        subject_id, encrypted_values, prev_hash, hash
    ) VALUES (
        v_tenant, v_seq, v_at, v_txid, v_table, v_row_id, 'B', v_actor,
        v_changed, v_redacted, NULL, v_new_values, NULL, NULL, v_prev, v_hash
    );
    UPDATE audit.chain_heads SET seq = v_seq, head_hash = v_hash WHERE tenant_id = v_tenant;
    RETURN v_seq;
END
$fn$;

CREATE FUNCTION audit.check_bulk_sealed() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM audit.log l WHERE l.tenant_id = NEW.tenant_id
                   AND l.table_name = NEW.table_name AND l.row_id = NEW.batch_id::text
                   AND l.op = 'B') THEN
        RAISE EXCEPTION 'bulk batch % of % was not sealed: its rows would be unaudited',
            NEW.batch_id, NEW.table_name USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NULL;
END
$fn$;
"""


def upgrade() -> None:
    op.execute("ALTER TABLE audit.log DROP CONSTRAINT ck_log_op")
    op.execute("ALTER TABLE audit.log ADD CONSTRAINT ck_log_op CHECK (op IN ('I', 'U', 'D', 'B'))")
    op.execute(TABLES)
    op.execute(_seal())
    op.execute(_record_rows(with_bulk=True))
    op.execute(
        "CREATE CONSTRAINT TRIGGER audit_bulk_sealed AFTER INSERT ON audit.bulk_batches"
        " DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION audit.check_bulk_sealed()"
    )
    for table in ("audit.bulk_batches", "audit.bulk_rows"):
        op.execute(
            f"CREATE TRIGGER audit_guard BEFORE UPDATE OR DELETE ON {table}"
            " FOR EACH ROW EXECUTE FUNCTION audit.reject_change()"
        )
        op.execute(f"SELECT audit.guard('{table}')")
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        op.execute(
            f"CREATE POLICY tenant_isolation ON {table}"
            f" USING (tenant_id = {CURRENT_TENANT}) WITH CHECK (tenant_id = {CURRENT_TENANT})"
        )
        op.execute(f"GRANT SELECT ON {table} TO {APP}")
    op.execute(
        "REVOKE ALL ON FUNCTION audit.seal_bulk_batch(uuid, uuid, text, text, bytea) FROM PUBLIC"
    )
    op.execute("REVOKE ALL ON FUNCTION audit.check_bulk_sealed() FROM PUBLIC")


def downgrade() -> None:
    op.execute(
        "DO $$ BEGIN IF EXISTS (SELECT 1 FROM audit.log WHERE op = 'B') THEN"
        " RAISE EXCEPTION 'the trail holds bulk batch entries: revision 0400 cannot read them';"
        " END IF; END $$"
    )
    op.execute(_record_rows(with_bulk=False))
    op.execute(f"REVOKE ALL ON audit.bulk_batches, audit.bulk_rows FROM {APP}")
    op.execute("DROP TABLE audit.bulk_rows")
    op.execute("DROP TABLE audit.bulk_batches")
    op.execute("DROP FUNCTION audit.check_bulk_sealed()")
    op.execute("DROP FUNCTION audit.seal_bulk_batch(uuid, uuid, text, text, bytea)")
    op.execute("ALTER TABLE audit.log DROP CONSTRAINT ck_log_op")
    op.execute("ALTER TABLE audit.log ADD CONSTRAINT ck_log_op CHECK (op IN ('I', 'U', 'D'))")
