"""Tamper-evident audit trail: schema `audit`, hash-chained log, triggers on every tenant table.

Every INSERT, UPDATE and DELETE on a table with a `tenant_id` column is appended to
`audit.log` by AFTER ... FOR EACH STATEMENT triggers with transition tables
(`audit.record_rows`, SECURITY DEFINER, fixed search_path), so raw SQL is captured too and a
bulk load appends its entries set-wise, taking each tenant's chain head once per statement. Entries of one tenant form a hash chain: the append takes the
tenant's row in `audit.chain_heads` FOR UPDATE, which serialises writers of that tenant (and
only of that tenant) until they commit, so the chain cannot fork. Values of personal-data
columns listed in `audit.redacted_columns` are never written: only their names.

The canonical encoding hashed here is defined in `tenantry.audit.chain` and must stay in step
with it: each field as `<length>:<text>\\n`, NULL as `-\\n`, in the order of `FIELDS` there.

`audit.log` is partitioned by month with a DEFAULT partition so an append never fails.
UPDATE, DELETE and TRUNCATE on the trail are rejected by a guard trigger, also for the owner,
unless the transaction-local flag `tenantry.audit_maintenance` is on (set only by
`audit.drop_partitions_before`, the retention function). `tenantry_app` may only read its own
tenant's entries (RLS); it appends only through the trigger.

Tables are found at upgrade time, not listed: every table with `tenant_id` in the schemas
below. Later migrations call `audit.enable('schema.table')` for new tables.

Revision ID: 0100
Revises: 0004
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0100"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APP = "tenantry_app"
AUDITED_SCHEMAS = (
    "identity",
    "crm",
    "commerce",
    "engage",
    "channel",
    "insight",
    "privacy",
    "events",
)
CURRENT_TENANT = "NULLIF(current_setting('tenantry.tenant_id', true), '')::uuid"

# Personal-data columns whose values never enter the trail (only their names do). A catalog
# test checks that this list equals the columns the models mark with `info={"pii": ...}`.
REDACTED_COLUMNS = (
    ("commerce.bookings", "event_address"),
    ("commerce.bookings", "notes"),
    ("commerce.invoices", "billing_address"),
    ("commerce.invoices", "billing_name"),
    ("commerce.payment_notifications", "memo"),
    ("commerce.payment_notifications", "sender_name"),
    ("commerce.payment_notifications", "sender_phone"),
    ("commerce.payments", "payer_name"),
    ("channel.connections", "access_token"),
    ("channel.connections", "refresh_token"),
    ("crm.customers", "city"),
    ("crm.customers", "email"),
    ("crm.customers", "first_name"),
    ("crm.customers", "last_name"),
    ("crm.customers", "notes"),
    ("crm.customers", "phone"),
    ("crm.customers", "postal_code"),
    ("crm.customers", "street"),
    ("crm.lead_interactions", "summary"),
    ("crm.leads", "email"),
    ("crm.leads", "first_name"),
    ("crm.leads", "last_name"),
    ("crm.leads", "message"),
    ("crm.leads", "phone"),
    ("crm.vehicles", "license_plate"),
    ("crm.vehicles", "vin"),
    ("engage.email_events", "recipient"),
    ("engage.messages", "body"),
    ("engage.reviews", "author_name"),
    ("engage.reviews", "body"),
    ("engage.threads", "subject"),
    # Keyed hashes of personal data and key material: in the trail they would survive erasure
    # and crypto-shredding.
    ("privacy.dsar_requests", "requester_bidx"),
    ("privacy.doi_tokens", "address_bidx"),
    ("privacy.doi_tokens", "token_hash"),
    ("privacy.subject_keys", "wrapped_key"),
    ("privacy.subjects", "email_bidx"),
    ("privacy.subjects", "phone_bidx"),
    ("privacy.subjects", "phone_last4_bidx"),
    ("privacy.subjects", "pseudonym"),
    ("privacy.tenant_keys", "wrapped_key"),
    ("identity.users", "display_name"),
    ("identity.users", "email"),
)

# Encoding of one field of the canonical text; see tenantry.audit.chain.
_F = "CASE WHEN {v} IS NULL THEN '-' ELSE length({v})::text || ':' || {v} END || E'\\n'"


def _f(expr: str) -> str:
    return _F.format(v=f"({expr})")


def _entry_hash(row_id: str, op: str, changed: str, redacted: str, old: str, new: str) -> str:
    """The SQL expression hashing one entry (both trigger functions use it, so they agree)."""
    fields = [
        "'tenantry-audit-v1'",
        "v_tenant::text",
        "(extract(epoch FROM v_at) * 1000000)::bigint::text",
        "v_txid::text",
        "v_table",
        row_id,
        op,
        "v_actor",
        f"{changed}::text",
        f"{redacted}::text",
        f"{old}::text",
        f"{new}::text",
        "NULL::text",
        "NULL::text",
        "v_seq::text",
        "encode(v_prev, 'hex')",
    ]
    return "sha256(convert_to(" + "\n            || ".join(_f(f) for f in fields) + ", 'UTF8'))"


TABLES = """
CREATE TABLE audit.redacted_columns (
    table_name text NOT NULL,
    column_name text NOT NULL,
    CONSTRAINT pk_redacted_columns PRIMARY KEY (table_name, column_name)
);

CREATE TABLE audit.chain_heads (
    tenant_id uuid NOT NULL,
    seq bigint NOT NULL,
    head_hash bytea NOT NULL,
    base_seq bigint NOT NULL DEFAULT 0,
    base_hash bytea NOT NULL,
    CONSTRAINT pk_chain_heads PRIMARY KEY (tenant_id)
);

CREATE TABLE audit.log (
    tenant_id uuid NOT NULL,
    seq bigint NOT NULL,
    recorded_at timestamptz NOT NULL,
    txid bigint NOT NULL,
    table_name text NOT NULL,
    row_id text NOT NULL,
    op varchar(1) NOT NULL,
    actor text NOT NULL,
    changed_columns text[] NOT NULL,
    redacted_columns text[] NOT NULL,
    old_values jsonb,
    new_values jsonb,
    subject_id uuid,
    encrypted_values bytea,
    prev_hash bytea NOT NULL,
    hash bytea NOT NULL,
    CONSTRAINT pk_log PRIMARY KEY (tenant_id, seq, recorded_at),
    CONSTRAINT ck_log_op CHECK (op IN ('I', 'U', 'D'))
) PARTITION BY RANGE (recorded_at);

CREATE INDEX ix_log_tenant_id_table_name_row_id ON audit.log (tenant_id, table_name, row_id);

CREATE TABLE audit.log_default PARTITION OF audit.log DEFAULT;

CREATE TABLE audit.checkpoints (
    id uuid NOT NULL,
    created_at timestamptz NOT NULL,
    payload text NOT NULL,
    signature bytea NOT NULL,
    public_key bytea NOT NULL,
    CONSTRAINT pk_checkpoints PRIMARY KEY (id)
);
"""

GENESIS = "'\\x" + "00" * 32 + "'::bytea"

_CHANGES = """
        WITH pairs AS ({pairs}),
        rows AS (
            SELECT coalesce(p.n, p.o) AS j, p.o, p.n,
                   CASE WHEN p.o IS NULL THEN 'I' WHEN p.n IS NULL THEN 'D' ELSE 'U' END AS op
              FROM pairs p
        ),
        changes AS (
            SELECT (rw.j ->> 'tenant_id')::uuid AS tenant_id, audit.row_key(rw.j, TG_ARGV) AS row_id,
                   rw.op, rw.o, rw.n,
                   CASE WHEN rw.op = 'U' THEN ARRAY(
                            SELECT e.key FROM jsonb_each(rw.n) e
                             WHERE e.value IS DISTINCT FROM rw.o -> e.key
                             ORDER BY e.key COLLATE "C")
                        ELSE v_all
                   END AS changed
              FROM rows rw
        )
        SELECT c.tenant_id, c.row_id, c.op, c.changed,
               CASE WHEN c.op = 'U' THEN ARRAY(
                        SELECT k FROM unnest(c.changed) k WHERE k = ANY (v_pii)
                         ORDER BY k COLLATE "C")
                    ELSE v_all_redacted
               END AS redacted,
               CASE WHEN c.op = 'I' THEN NULL
                    WHEN c.op = 'D' THEN c.o - v_pii
                    ELSE (SELECT coalesce(jsonb_object_agg(e.key, e.value), '{{}}')
                            FROM jsonb_each(c.o) e WHERE e.key = ANY (c.changed)) - v_pii
               END AS old_values,
               CASE WHEN c.op = 'D' THEN NULL
                    WHEN c.op = 'I' THEN c.n - v_pii
                    ELSE (SELECT coalesce(jsonb_object_agg(e.key, e.value), '{{}}')
                            FROM jsonb_each(c.n) e WHERE e.key = ANY (c.changed)) - v_pii
               END AS new_values
          FROM changes c
         WHERE cardinality(c.changed) > 0
         ORDER BY c.tenant_id, c.row_id"""


def _changes(pairs: str) -> str:
    return _CHANGES.format(pairs=pairs)


_INSERTED = _changes("SELECT NULL::jsonb AS o, to_jsonb(x) AS n FROM audit_new x")
_DELETED = _changes("SELECT to_jsonb(x) AS o, NULL::jsonb AS n FROM audit_old x")
_UPDATED = _changes(
    "SELECT o.j AS o, n.j AS n FROM (SELECT to_jsonb(x) AS j FROM audit_old x) o"
    " FULL JOIN (SELECT to_jsonb(x) AS j FROM audit_new x) n"
    " ON (o.j ->> 'tenant_id') = (n.j ->> 'tenant_id')"
    " AND audit.row_key(o.j, TG_ARGV) = audit.row_key(n.j, TG_ARGV)"
)

RECORD = f"""
CREATE FUNCTION audit.row_key(p_row jsonb, p_keys text[]) RETURNS text
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
    SELECT array_to_string(
        ARRAY(SELECT coalesce(p_row ->> k, '') FROM unnest(p_keys) WITH ORDINALITY u(k, i)
               ORDER BY i), ',')
$fn$;

CREATE FUNCTION audit.record_rows() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_table text := TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME;
    v_pii text[];
    v_all text[];
    v_all_redacted text[];
    v_actor text;
    v_txid bigint := txid_current();
    v_cur refcursor;
    r record;
    v_tenant uuid := NULL;
    v_seq bigint;
    v_prev bytea;
    v_hash bytea;
    v_at timestamptz;
BEGIN
    -- Static SQL only: PL/pgSQL keeps one compiled copy of a trigger function per table, so
    -- every query below is planned once per table and session, not once per statement.
    SELECT coalesce(array_agg(c.column_name), '{{}}') INTO v_pii
      FROM audit.redacted_columns c WHERE c.table_name = v_table;
    v_actor := coalesce(
        nullif(current_setting('tenantry.actor', true), ''), 'db:' || session_user
    );
    -- Inserts and deletes change every column: their column lists are the table's.
    SELECT coalesce(array_agg(a.attname::text ORDER BY a.attname::text COLLATE "C"), '{{}}')
      INTO v_all FROM pg_attribute a
     WHERE a.attrelid = TG_RELID AND a.attnum > 0 AND NOT a.attisdropped;
    v_all_redacted := ARRAY(SELECT k FROM unnest(v_all) k WHERE k = ANY (v_pii)
                            ORDER BY k COLLATE "C");
    -- Everything but the chain itself is computed set-based; the loop only links the hashes.
    IF TG_OP = 'INSERT' THEN
        OPEN v_cur FOR {_INSERTED};
    ELSIF TG_OP = 'DELETE' THEN
        OPEN v_cur FOR {_DELETED};
    ELSE
        OPEN v_cur FOR {_UPDATED};
    END IF;
    LOOP
        FETCH v_cur INTO r;
        EXIT WHEN NOT FOUND;
        IF v_tenant IS DISTINCT FROM r.tenant_id THEN
            IF v_tenant IS NOT NULL THEN
                UPDATE audit.chain_heads SET seq = v_seq, head_hash = v_prev
                 WHERE tenant_id = v_tenant;
            END IF;
            v_tenant := r.tenant_id;
            -- The row lock on the tenant's head serialises appends of this tenant until commit.
            SELECT h.seq, h.head_hash INTO v_seq, v_prev
              FROM audit.chain_heads h WHERE h.tenant_id = v_tenant FOR UPDATE;
            IF NOT FOUND THEN
                INSERT INTO audit.chain_heads (tenant_id, seq, head_hash, base_seq, base_hash)
                VALUES (v_tenant, 0, {GENESIS}, 0, {GENESIS})
                ON CONFLICT (tenant_id) DO NOTHING;
                SELECT h.seq, h.head_hash INTO v_seq, v_prev
                  FROM audit.chain_heads h WHERE h.tenant_id = v_tenant FOR UPDATE;
            END IF;
        END IF;
        v_seq := v_seq + 1;
        -- Taken after the lock, so time never runs backwards along a chain (partitions by
        -- month can then be dropped oldest first without leaving holes).
        v_at := clock_timestamp();
        v_hash := {_entry_hash("r.row_id", "r.op", "r.changed", "r.redacted", "r.old_values", "r.new_values")};
        INSERT INTO audit.log (
            tenant_id, seq, recorded_at, txid, table_name, row_id, op, actor,
            changed_columns, redacted_columns, old_values, new_values,
            subject_id, encrypted_values, prev_hash, hash
        ) VALUES (
            v_tenant, v_seq, v_at, v_txid, v_table, r.row_id, r.op, v_actor,
            r.changed, r.redacted, r.old_values, r.new_values, NULL, NULL, v_prev, v_hash
        );
        v_prev := v_hash;
    END LOOP;
    IF v_tenant IS NOT NULL THEN
        UPDATE audit.chain_heads SET seq = v_seq, head_hash = v_prev WHERE tenant_id = v_tenant;
    END IF;
    CLOSE v_cur;
    RETURN NULL;
END
$fn$;
"""


ROW_RECORD = f"""
CREATE FUNCTION audit.record() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_table text := TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME;
    v_old jsonb;
    v_new jsonb;
    v_row jsonb;
    v_pii text[];
    v_changed text[];
    v_redacted text[];
    v_old_values jsonb;
    v_new_values jsonb;
    v_parts text[] := '{{}}';
    v_row_id text;
    v_tenant uuid;
    v_actor text;
    v_txid bigint := txid_current();
    v_at timestamptz;
    v_seq bigint;
    v_prev bytea;
    v_hash bytea;
BEGIN
    IF TG_OP <> 'DELETE' THEN
        v_new := to_jsonb(NEW);
    END IF;
    IF TG_OP <> 'INSERT' THEN
        v_old := to_jsonb(OLD);
    END IF;
    v_row := coalesce(v_new, v_old);

    SELECT coalesce(array_agg(r.column_name), '{{}}') INTO v_pii
      FROM audit.redacted_columns r WHERE r.table_name = v_table;

    IF TG_OP = 'UPDATE' THEN
        SELECT coalesce(array_agg(n.key ORDER BY n.key COLLATE "C"), '{{}}') INTO v_changed
          FROM jsonb_each(v_new) n WHERE n.value IS DISTINCT FROM v_old -> n.key;
        IF cardinality(v_changed) = 0 THEN
            RETURN NULL;  -- nothing changed: nothing to record
        END IF;
        SELECT coalesce(jsonb_object_agg(o.key, o.value), '{{}}') - v_pii INTO v_old_values
          FROM jsonb_each(v_old) o WHERE o.key = ANY (v_changed);
        SELECT coalesce(jsonb_object_agg(n.key, n.value), '{{}}') - v_pii INTO v_new_values
          FROM jsonb_each(v_new) n WHERE n.key = ANY (v_changed);
    ELSE
        SELECT array_agg(k ORDER BY k COLLATE "C") INTO v_changed FROM jsonb_object_keys(v_row) k;
        IF TG_OP = 'INSERT' THEN
            v_new_values := v_new - v_pii;
        ELSE
            v_old_values := v_old - v_pii;
        END IF;
    END IF;
    v_redacted := ARRAY(
        SELECT c FROM unnest(v_changed) c WHERE c = ANY (v_pii) ORDER BY c COLLATE "C"
    );

    FOR i IN 0 .. TG_NARGS - 1 LOOP
        v_parts := v_parts || (v_row ->> TG_ARGV[i]);
    END LOOP;
    v_row_id := array_to_string(v_parts, ',', '');
    v_tenant := (v_row ->> 'tenant_id')::uuid;
    v_actor := coalesce(
        nullif(current_setting('tenantry.actor', true), ''), 'db:' || session_user
    );

    -- The row lock on the tenant's head serialises appends of this tenant until commit.
    SELECT h.seq, h.head_hash INTO v_seq, v_prev
      FROM audit.chain_heads h WHERE h.tenant_id = v_tenant FOR UPDATE;
    IF NOT FOUND THEN
        INSERT INTO audit.chain_heads (tenant_id, seq, head_hash, base_seq, base_hash)
        VALUES (v_tenant, 0, {GENESIS}, 0, {GENESIS})
        ON CONFLICT (tenant_id) DO NOTHING;
        SELECT h.seq, h.head_hash INTO v_seq, v_prev
          FROM audit.chain_heads h WHERE h.tenant_id = v_tenant FOR UPDATE;
    END IF;
    v_seq := v_seq + 1;
    -- Taken after the lock, so time never runs backwards along a chain (partitions by month
    -- can then be dropped oldest first without leaving holes).
    v_at := clock_timestamp();

    v_hash := {_entry_hash("v_row_id", "left(TG_OP, 1)", "v_changed", "v_redacted", "v_old_values", "v_new_values")};

    INSERT INTO audit.log (
        tenant_id, seq, recorded_at, txid, table_name, row_id, op, actor,
        changed_columns, redacted_columns, old_values, new_values,
        subject_id, encrypted_values, prev_hash, hash
    ) VALUES (
        v_tenant, v_seq, v_at, v_txid, v_table, v_row_id, left(TG_OP, 1), v_actor,
        v_changed, v_redacted, v_old_values, v_new_values,
        NULL, NULL, v_prev, v_hash
    );
    UPDATE audit.chain_heads SET seq = v_seq, head_hash = v_hash WHERE tenant_id = v_tenant;
    RETURN NULL;
END
$fn$;
"""

GUARD = """
CREATE FUNCTION audit.reject_change() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF coalesce(current_setting('tenantry.audit_maintenance', true), '') = 'on' THEN
        IF TG_LEVEL = 'STATEMENT' THEN
            RETURN NULL;
        ELSIF TG_OP = 'DELETE' THEN
            RETURN OLD;
        END IF;
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'the audit trail is append-only: % on %.% rejected',
        TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END
$fn$;
"""

FUNCTIONS = """
CREATE FUNCTION audit.guard(p_table regclass) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    EXECUTE format(
        'CREATE TRIGGER audit_guard_truncate BEFORE TRUNCATE ON %s'
        ' FOR EACH STATEMENT EXECUTE FUNCTION audit.reject_change()', p_table);
END
$fn$;

CREATE FUNCTION audit.ensure_partitions(p_from date, p_months integer) RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_month date;
    v_name text;
    v_lo timestamptz;
    v_hi timestamptz;
    v_created integer := 0;
BEGIN
    FOR i IN 0 .. p_months - 1 LOOP
        v_month := (date_trunc('month', p_from) + make_interval(months => i))::date;
        v_name := 'log_y' || to_char(v_month, 'YYYY') || 'm' || to_char(v_month, 'MM');
        v_lo := v_month::timestamp AT TIME ZONE 'UTC';
        v_hi := (v_month + interval '1 month')::timestamp AT TIME ZONE 'UTC';
        CONTINUE WHEN to_regclass('audit.' || v_name) IS NOT NULL;
        -- Entries that already fell into the DEFAULT partition stay there; the month then
        -- keeps using it rather than failing the append.
        CONTINUE WHEN EXISTS (
            SELECT 1 FROM audit.log_default WHERE recorded_at >= v_lo AND recorded_at < v_hi
        );
        EXECUTE format(
            'CREATE TABLE audit.%I PARTITION OF audit.log FOR VALUES FROM (%L) TO (%L)',
            v_name, v_lo, v_hi);
        PERFORM audit.guard(format('audit.%I', v_name)::regclass);
        v_created := v_created + 1;
    END LOOP;
    RETURN v_created;
END
$fn$;

CREATE FUNCTION audit.drop_partitions_before(p_before date) RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_cut timestamptz := date_trunc('month', p_before)::timestamp AT TIME ZONE 'UTC';
    v_part record;
    v_dropped integer := 0;
BEGIN
    PERFORM set_config('tenantry.audit_maintenance', 'on', true);
    -- Remember, per chain, the last entry that goes, so verify can start after it.
    UPDATE audit.chain_heads h SET base_seq = c.seq, base_hash = c.hash
      FROM (SELECT DISTINCT ON (tenant_id) tenant_id, seq, hash FROM audit.log
             WHERE recorded_at < v_cut ORDER BY tenant_id, seq DESC) c
     WHERE h.tenant_id = c.tenant_id AND c.seq > h.base_seq;
    FOR v_part IN
        SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
         WHERE i.inhparent = 'audit.log'::regclass AND c.relname ~ '^log_y[0-9]{4}m[0-9]{2}$'
           AND (to_date(substr(c.relname, 6, 4) || substr(c.relname, 11, 2), 'YYYYMM')
                + interval '1 month')::timestamp AT TIME ZONE 'UTC' <= v_cut
    LOOP
        EXECUTE format('DROP TABLE audit.%I', v_part.relname);
        v_dropped := v_dropped + 1;
    END LOOP;
    DELETE FROM audit.log_default WHERE recorded_at < v_cut;
    PERFORM set_config('tenantry.audit_maintenance', 'off', true);
    RETURN v_dropped;
END
$fn$;

CREATE FUNCTION audit.enable(p_table regclass) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_schema text;
    v_keys text;
BEGIN
    SELECT n.nspname INTO v_schema
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = p_table;
    IF v_schema = 'audit' THEN
        RAISE EXCEPTION 'the audit schema is not audited';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = p_table
                   AND attname = 'tenant_id' AND NOT attisdropped) THEN
        RAISE EXCEPTION '% has no tenant_id column', p_table;
    END IF;
    SELECT string_agg(quote_literal(a.attname), ', ' ORDER BY k.ord) INTO v_keys
      FROM pg_index i
      CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
      JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
     WHERE i.indrelid = p_table AND i.indisprimary AND a.attname <> 'tenant_id';
    IF v_keys IS NULL THEN
        RAISE EXCEPTION '% needs a primary key besides tenant_id to be audited', p_table;
    END IF;
    PERFORM audit.disable(p_table);
    -- Inserts (bulk loads, COPY) are recorded per statement from the transition table: one
    -- chain-head lock per tenant and statement. Updates and deletes, typically a row or a
    -- few, are recorded per row, which costs less for a single row. Both produce the same
    -- entries; audit.record_rows also handles updates and deletes if wired to them.
    EXECUTE format(
        'CREATE TRIGGER audit_trail_insert AFTER INSERT ON %s REFERENCING NEW TABLE AS audit_new'
        ' FOR EACH STATEMENT EXECUTE FUNCTION audit.record_rows(%s)', p_table, v_keys);
    EXECUTE format(
        'CREATE TRIGGER audit_trail_update AFTER UPDATE ON %s'
        ' FOR EACH ROW EXECUTE FUNCTION audit.record(%s)', p_table, v_keys);
    EXECUTE format(
        'CREATE TRIGGER audit_trail_delete AFTER DELETE ON %s'
        ' FOR EACH ROW EXECUTE FUNCTION audit.record(%s)', p_table, v_keys);
END
$fn$;

CREATE FUNCTION audit.disable(p_table regclass) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    EXECUTE format('DROP TRIGGER IF EXISTS audit_trail_insert ON %s', p_table);
    EXECUTE format('DROP TRIGGER IF EXISTS audit_trail_update ON %s', p_table);
    EXECUTE format('DROP TRIGGER IF EXISTS audit_trail_delete ON %s', p_table);
END
$fn$;
"""

AUDITED_TABLES = """
SELECT c.oid::regclass::text
  FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace
  JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped
 WHERE n.nspname = ANY (ARRAY[{schemas}])
   AND c.relkind IN ('r', 'p') AND NOT c.relispartition
 ORDER BY 1
"""


def _audited_tables_sql() -> str:
    return AUDITED_TABLES.format(schemas=", ".join(f"'{s}'" for s in AUDITED_SCHEMAS))


def upgrade() -> None:
    op.execute("CREATE SCHEMA audit")
    op.execute(TABLES)
    op.execute(RECORD)
    op.execute(ROW_RECORD)
    op.execute(GUARD)
    op.execute(FUNCTIONS)
    op.execute(
        "INSERT INTO audit.redacted_columns (table_name, column_name) VALUES "
        + ", ".join(f"('{t}', '{c}')" for t, c in REDACTED_COLUMNS)
    )

    for table in ("audit.log", "audit.checkpoints"):
        op.execute(
            f"CREATE TRIGGER audit_guard BEFORE UPDATE OR DELETE ON {table}"
            " FOR EACH ROW EXECUTE FUNCTION audit.reject_change()"
        )
        op.execute(f"SELECT audit.guard('{table}')")
    op.execute("SELECT audit.guard('audit.log_default')")
    op.execute("SELECT audit.guard('audit.chain_heads')")
    op.execute(
        "SELECT audit.ensure_partitions((date_trunc('month', now()) - interval '1 month')::date, 15)"
    )

    for table in ("audit.log", "audit.chain_heads"):
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        op.execute(
            f"CREATE POLICY tenant_isolation ON {table}"
            f" USING (tenant_id = {CURRENT_TENANT}) WITH CHECK (tenant_id = {CURRENT_TENANT})"
        )
        op.execute(f"GRANT SELECT ON {table} TO {APP}")
    op.execute("REVOKE ALL ON ALL FUNCTIONS IN SCHEMA audit FROM PUBLIC")
    op.execute(f"GRANT USAGE ON SCHEMA audit TO {APP}")

    op.execute(
        "DO $$ DECLARE t text; BEGIN"
        f" FOR t IN {_audited_tables_sql()} LOOP PERFORM audit.enable(t::regclass); END LOOP;"
        " END $$"
    )


def downgrade() -> None:
    op.execute(
        "DO $$ DECLARE t text; BEGIN"
        " FOR t IN SELECT tgrelid::regclass::text FROM pg_trigger"
        "  WHERE tgfoid = 'audit.record_rows()'::regprocedure AND tgparentid = 0"
        " LOOP PERFORM audit.disable(t::regclass); END LOOP; END $$"
    )
    op.execute(f"REVOKE ALL ON ALL TABLES IN SCHEMA audit FROM {APP}")
    op.execute(f"REVOKE USAGE ON SCHEMA audit FROM {APP}")
    op.execute("DROP SCHEMA audit CASCADE")
