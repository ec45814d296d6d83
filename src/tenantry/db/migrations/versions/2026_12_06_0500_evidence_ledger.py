"""Evidence ledger: retrievals, append-only evidence, analysis runs, statements, prompts.

- `insight.retrievals`: one row per fetch of a collector (URI, status, the bytes sealed, their
  SHA-256). `insight.evidence` gains the retrieval, the fact's key and value, the extractor and
  its version, a sealed excerpt (it can quote a person) and `superseded_at/_by` for rechecks.
- Both are append-only: `tenantry_app` may insert and read them, and update nothing on
  evidence but the supersession columns; a trigger refuses any other change, for the owner too.
- `insight.analysis_runs` records each analyser run (provider, model, prompt version, input
  evidence, output, tokens, latency, rejections); `insight.prompts` the prompt texts by hash.
- `insight.statements` (+ `statement_evidence`): a deferred constraint trigger refuses to
  commit a published statement, or a recommendation of a check, without evidence of that check;
  linking evidence of another check is refused at once.
- `visibility_checks` gains the anonymous flow's columns and status `awaiting_confirmation`;
  `benchmarks` gains `category` and `tenant_count` (at least 5).

Revision ID: 0500
Revises: 0450
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0500"
down_revision: str | None = "0450"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APP = "tenantry_app"
CURRENT_TENANT = "NULLIF(current_setting('tenantry.tenant_id', true), '')::uuid"
NOW = sa.text("now()")


def _values(*values: str) -> str:
    return ", ".join(f"'{v}'::character varying" for v in values)


def _enum_check(table: str, name: str, column: str, values: tuple[str, ...]) -> None:
    short = table.split(".")[1]
    op.execute(f"ALTER TABLE {table} DROP CONSTRAINT ck_{short}_{name}")
    op.execute(
        f"ALTER TABLE {table} ADD CONSTRAINT ck_{short}_{name}"
        f" CHECK ({column}::text = ANY ((ARRAY[{_values(*values)}])::text[]))"
    )


CHECK_STATUS = ("awaiting_confirmation", "queued", "running", "completed", "failed")
OLD_CHECK_STATUS = CHECK_STATUS[1:]
SOURCES = (
    "gbp", "ga4", "facebook", "instagram", "website", "review_platform", "places", "search",
    "ai_model", "manual",
)  # fmt: skip
OLD_SOURCES = tuple(s for s in SOURCES if s != "places")
SNAPSHOT_SOURCES = ("gbp", "ga4", "facebook", "instagram", "website", "places", "internal")
OLD_SNAPSHOT_SOURCES = tuple(s for s in SNAPSHOT_SOURCES if s != "places")
KINDS = ("strength", "weakness", "opportunity", "threat", "persona", "recommendation", "summary")


def _ts(name: str, nullable: bool = True) -> sa.Column[Any]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _stamps() -> list[sa.Column[Any]]:
    return [
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
    ]


def _tenant_fk(
    table: str, column: str, target: str, ondelete: str | None = None
) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["tenant_id", column],
        [f"{target}.tenant_id", f"{target}.id"],
        name=f"fk_{table}_tenant_id_{column}"[:63],
        ondelete=ondelete,
    )


def _protect(table: str, grants: str) -> None:
    op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
    op.execute(
        f"CREATE POLICY tenant_isolation ON {table}"
        f" USING (tenant_id = {CURRENT_TENANT}) WITH CHECK (tenant_id = {CURRENT_TENANT})"
    )
    op.execute(f"GRANT {grants} ON {table} TO {APP}")
    op.execute(f"SELECT audit.enable('{table}'::regclass)")


FUNCTIONS = """
CREATE FUNCTION insight.evidence_append_only() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF current_setting('tenantry.ledger_maintenance', true) = 'on' THEN
            RETURN OLD;
        END IF;
        RAISE EXCEPTION 'the evidence ledger is append-only: % rows are never deleted',
            TG_TABLE_NAME USING ERRCODE = 'check_violation';
    END IF;
    IF TG_TABLE_NAME = 'evidence'
       AND (to_jsonb(NEW) - 'superseded_at' - 'superseded_by' - 'updated_at')
         = (to_jsonb(OLD) - 'superseded_at' - 'superseded_by' - 'updated_at')
       AND (OLD.superseded_at IS NULL OR NEW.superseded_at = OLD.superseded_at)
       AND (OLD.superseded_by IS NULL OR NEW.superseded_by = OLD.superseded_by) THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'the evidence ledger is append-only: a % row cannot change', TG_TABLE_NAME
        USING ERRCODE = 'check_violation';
END
$$;

CREATE FUNCTION insight.statement_needs_evidence() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog AS $$
BEGIN
    IF TG_TABLE_NAME = 'statements' THEN
        IF NEW.status::text = 'published' AND NOT EXISTS (
            SELECT 1 FROM insight.statement_evidence l
            JOIN insight.evidence e ON e.tenant_id = l.tenant_id AND e.id = l.evidence_id
            WHERE l.tenant_id = NEW.tenant_id AND l.statement_id = NEW.id
              AND e.visibility_check_id = NEW.visibility_check_id) THEN
            RAISE EXCEPTION 'a statement is published only with evidence of its own check'
                USING ERRCODE = 'check_violation';
        END IF;
    ELSIF NEW.visibility_check_id IS NOT NULL AND NOT EXISTS (
            SELECT 1 FROM insight.recommendation_evidence l
            JOIN insight.evidence e ON e.tenant_id = l.tenant_id AND e.id = l.evidence_id
            WHERE l.tenant_id = NEW.tenant_id AND l.recommendation_id = NEW.id
              AND e.visibility_check_id = NEW.visibility_check_id) THEN
        RAISE EXCEPTION 'a recommendation of a check needs evidence of that check'
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END
$$;

CREATE FUNCTION insight.evidence_of_the_same_check() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog AS $$
BEGIN
    -- One query per statement, whatever the number of links it inserts.
    IF TG_TABLE_NAME = 'statement_evidence' THEN
        PERFORM 1 FROM new_links l
          JOIN insight.statements s ON s.tenant_id = l.tenant_id AND s.id = l.statement_id
         WHERE NOT EXISTS (
             SELECT 1 FROM insight.evidence e
              WHERE e.tenant_id = l.tenant_id AND e.id = l.evidence_id
                AND e.visibility_check_id = s.visibility_check_id)
         LIMIT 1;
    ELSE
        PERFORM 1 FROM new_links l
          JOIN insight.recommendations r
            ON r.tenant_id = l.tenant_id AND r.id = l.recommendation_id
         WHERE r.visibility_check_id IS NOT NULL AND NOT EXISTS (
             SELECT 1 FROM insight.evidence e
              WHERE e.tenant_id = l.tenant_id AND e.id = l.evidence_id
                AND e.visibility_check_id = r.visibility_check_id)
         LIMIT 1;
    END IF;
    IF FOUND THEN
        RAISE EXCEPTION 'a statement may cite only evidence of its own check'
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END
$$;
"""

TRIGGERS = """
CREATE TRIGGER ledger_append_only BEFORE UPDATE OR DELETE ON insight.evidence
    FOR EACH ROW EXECUTE FUNCTION insight.evidence_append_only();
CREATE TRIGGER ledger_append_only BEFORE UPDATE OR DELETE ON insight.retrievals
    FOR EACH ROW EXECUTE FUNCTION insight.evidence_append_only();
CREATE CONSTRAINT TRIGGER statement_needs_evidence AFTER INSERT OR UPDATE ON insight.statements
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION insight.statement_needs_evidence();
CREATE CONSTRAINT TRIGGER recommendation_needs_evidence
    AFTER INSERT OR UPDATE ON insight.recommendations
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION insight.statement_needs_evidence();
CREATE TRIGGER evidence_of_the_same_check AFTER INSERT ON insight.statement_evidence
    REFERENCING NEW TABLE AS new_links
    FOR EACH STATEMENT EXECUTE FUNCTION insight.evidence_of_the_same_check();
CREATE TRIGGER evidence_of_the_same_check AFTER INSERT ON insight.recommendation_evidence
    REFERENCING NEW TABLE AS new_links
    FOR EACH STATEMENT EXECUTE FUNCTION insight.evidence_of_the_same_check();
CREATE TRIGGER evidence_of_the_same_check_update AFTER UPDATE ON insight.statement_evidence
    REFERENCING NEW TABLE AS new_links
    FOR EACH STATEMENT EXECUTE FUNCTION insight.evidence_of_the_same_check();
CREATE TRIGGER evidence_of_the_same_check_update
    AFTER UPDATE ON insight.recommendation_evidence
    REFERENCING NEW TABLE AS new_links
    FOR EACH STATEMENT EXECUTE FUNCTION insight.evidence_of_the_same_check();
"""


def upgrade() -> None:
    # Visibility checks: the anonymous flow and the run's bookkeeping.
    op.execute("ALTER TABLE insight.visibility_checks ALTER COLUMN status TYPE varchar(21)")
    _enum_check("insight.visibility_checks", "visibility_check_status", "status", CHECK_STATUS)
    for column in (
        sa.Column("requested_by", sa.String(120)),
        sa.Column("doi_token_id", sa.Uuid()),
        _ts("confirmed_at"),
        _ts("started_at"),
        sa.Column("attempts", sa.SmallInteger(), server_default="0", nullable=False),
        sa.Column("analyser", sa.String(60)),
        sa.Column("rubric_version", sa.String(40)),
        sa.Column(
            "failures",
            postgresql.JSONB(),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
        sa.Column("error", sa.String(500)),
        _ts("stale_at"),
        _ts("delivered_at"),
    ):
        op.add_column("visibility_checks", column, schema="insight")
    op.execute(
        "CREATE INDEX ix_visibility_checks_queued"
        " ON insight.visibility_checks (tenant_id, requested_at) WHERE status = 'queued'"
    )

    op.create_table(
        "retrievals",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("location_id", sa.Uuid(), nullable=False),
        sa.Column("visibility_check_id", sa.Uuid()),
        sa.Column("collector", sa.String(40), nullable=False),
        sa.Column(
            "source",
            sa.Enum(*SOURCES, name="evidence_source", native_enum=False, create_constraint=True),
            nullable=False,
        ),
        sa.Column("uri", sa.String(2000), nullable=False),
        sa.Column("status_code", sa.SmallInteger()),
        sa.Column("content_type", sa.String(200)),
        sa.Column("error", sa.String(500)),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("body", sa.LargeBinary()),
        sa.Column("body_bytes", sa.Integer(), nullable=False),
        sa.Column("truncated", sa.Boolean(), server_default=sa.false(), nullable=False),
        _ts("retrieved_at", nullable=False),
        sa.Column("elapsed_ms", sa.Integer(), server_default="0", nullable=False),
        *_stamps(),
        _tenant_fk("retrievals", "location_id", "identity.locations"),
        _tenant_fk("retrievals", "visibility_check_id", "insight.visibility_checks"),
        sa.CheckConstraint(
            "content_hash ~ '^[0-9a-f]{64}$'", name="ck_retrievals_content_hash_sha256_hex"
        ),
        sa.CheckConstraint("body_bytes >= 0", name="ck_retrievals_body_bytes_non_negative"),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_retrievals"),
        schema="insight",
    )
    op.create_index(
        "ix_retrievals_tenant_check",
        "retrievals",
        ["tenant_id", "visibility_check_id"],
        schema="insight",
    )
    op.create_index(
        "ix_retrievals_tenant_location_uri",
        "retrievals",
        ["tenant_id", "location_id", "uri"],
        schema="insight",
    )

    # Evidence: the fact, its extractor, a sealed excerpt, supersession.
    _enum_check("insight.evidence", "evidence_source", "source", SOURCES)
    _enum_check("insight.analytics_snapshots", "snapshot_source", "source", SNAPSHOT_SOURCES)
    op.execute("ALTER TABLE insight.evidence DROP COLUMN excerpt")
    op.execute("ALTER TABLE insight.evidence ALTER COLUMN source_url TYPE varchar(2000)")
    evidence_columns: tuple[sa.Column[Any], ...] = (
        sa.Column("retrieval_id", sa.Uuid()),
        sa.Column("fact_key", sa.String(120)),
        sa.Column("value", postgresql.JSONB()),
        sa.Column("excerpt", sa.LargeBinary()),
        sa.Column("personal", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("extractor", sa.String(60)),
        sa.Column("extractor_version", sa.String(20)),
        _ts("superseded_at"),
        sa.Column("superseded_by", sa.Uuid()),
    )
    for column in evidence_columns:
        op.add_column("evidence", column, schema="insight")
    op.execute(
        "CREATE INDEX ix_evidence_tenant_location_current ON insight.evidence"
        " (tenant_id, location_id) WHERE superseded_at IS NULL"
    )
    op.create_foreign_key(
        "fk_evidence_tenant_id_retrieval_id_retrievals",
        "evidence",
        "retrievals",
        ["tenant_id", "retrieval_id"],
        ["tenant_id", "id"],
        source_schema="insight",
        referent_schema="insight",
    )
    op.create_foreign_key(
        "fk_evidence_tenant_id_superseded_by_evidence",
        "evidence",
        "evidence",
        ["tenant_id", "superseded_by"],
        ["tenant_id", "id"],
        source_schema="insight",
        referent_schema="insight",
    )

    op.create_table(
        "prompts",
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.CheckConstraint("version ~ '^[0-9a-f]{64}$'", name="ck_prompts_version_sha256_hex"),
        sa.PrimaryKeyConstraint("version", name="pk_prompts"),
        schema="insight",
    )
    op.create_table(
        "analysis_runs",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("visibility_check_id", sa.Uuid(), nullable=False),
        sa.Column("provider", sa.String(60), nullable=False),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("prompt_version", sa.String(64)),
        sa.Column(
            "input_evidence_ids",
            postgresql.ARRAY(sa.Uuid()),
            server_default="{}",
            nullable=False,
        ),
        sa.Column("output", postgresql.JSONB()),
        sa.Column("tokens_in", sa.Integer()),
        sa.Column("tokens_out", sa.Integer()),
        sa.Column("latency_ms", sa.Integer(), server_default="0", nullable=False),
        sa.Column("published", sa.Integer(), server_default="0", nullable=False),
        sa.Column("rejected", sa.Integer(), server_default="0", nullable=False),
        sa.Column(
            "rejections",
            postgresql.JSONB(),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
        sa.Column("error", sa.String(500)),
        _ts("started_at", nullable=False),
        _ts("finished_at"),
        *_stamps(),
        _tenant_fk("analysis_runs", "visibility_check_id", "insight.visibility_checks"),
        sa.ForeignKeyConstraint(
            ["prompt_version"],
            ["insight.prompts.version"],
            name="fk_analysis_runs_prompt_version_prompts",
        ),
        sa.CheckConstraint(
            "published >= 0 AND rejected >= 0", name="ck_analysis_runs_counts_non_negative"
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_analysis_runs"),
        schema="insight",
    )
    op.create_index(
        "ix_analysis_runs_tenant_check",
        "analysis_runs",
        ["tenant_id", "visibility_check_id"],
        schema="insight",
    )
    op.create_table(
        "statements",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("visibility_check_id", sa.Uuid(), nullable=False),
        sa.Column("location_id", sa.Uuid(), nullable=False),
        sa.Column("analysis_run_id", sa.Uuid(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(*KINDS, name="statement_kind", native_enum=False, create_constraint=True),
            nullable=False,
        ),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column(
            "data", postgresql.JSONB(), server_default=sa.text("'{}'::jsonb"), nullable=False
        ),
        sa.Column(
            "status",
            sa.Enum(
                "published",
                "stale",
                name="statement_status",
                native_enum=False,
                create_constraint=True,
            ),
            server_default="published",
            nullable=False,
        ),
        _ts("published_at", nullable=False),
        _ts("stale_at"),
        *_stamps(),
        _tenant_fk("statements", "visibility_check_id", "insight.visibility_checks"),
        _tenant_fk("statements", "location_id", "identity.locations"),
        _tenant_fk("statements", "analysis_run_id", "insight.analysis_runs"),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_statements"),
        schema="insight",
    )
    op.create_index(
        "ix_statements_tenant_check",
        "statements",
        ["tenant_id", "visibility_check_id"],
        schema="insight",
    )
    op.create_table(
        "statement_evidence",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("statement_id", sa.Uuid(), nullable=False),
        sa.Column("evidence_id", sa.Uuid(), nullable=False),
        *_stamps(),
        _tenant_fk("statement_evidence", "statement_id", "insight.statements", "CASCADE"),
        _tenant_fk("statement_evidence", "evidence_id", "insight.evidence", "CASCADE"),
        sa.PrimaryKeyConstraint(
            "tenant_id", "statement_id", "evidence_id", name="pk_statement_evidence"
        ),
        schema="insight",
    )
    op.create_index(
        "ix_statement_evidence_tenant_evidence",
        "statement_evidence",
        ["tenant_id", "evidence_id"],
        schema="insight",
    )
    op.add_column("recommendations", _ts("stale_at"), schema="insight")

    # Benchmarks: per category too, and never from fewer than five tenants.
    op.execute("DELETE FROM insight.benchmarks")
    op.add_column(
        "benchmarks",
        sa.Column("category", sa.String(80), server_default="", nullable=False),
        schema="insight",
    )
    op.add_column(
        "benchmarks", sa.Column("tenant_count", sa.Integer(), nullable=False), schema="insight"
    )
    op.execute(
        "ALTER TABLE insight.benchmarks"
        " DROP CONSTRAINT uq_benchmarks_vertical_region_metric_period_start"
    )
    op.create_unique_constraint(
        "uq_benchmarks_vertical_category_region_metric_period_start",
        "benchmarks",
        ["vertical", "category", "region", "metric", "period_start"],
        schema="insight",
    )
    op.execute(
        "ALTER TABLE insight.benchmarks ADD CONSTRAINT ck_benchmarks_at_least_five_tenants"
        " CHECK (tenant_count >= 5)"
    )

    op.execute(
        "INSERT INTO audit.redacted_columns (table_name, column_name) VALUES"
        " ('insight.retrievals', 'body'), ('insight.evidence', 'excerpt')"
    )
    op.execute(FUNCTIONS)
    op.execute(TRIGGERS)
    _protect("insight.retrievals", "SELECT, INSERT")
    _protect("insight.analysis_runs", "SELECT, INSERT, UPDATE")
    _protect("insight.statements", "SELECT, INSERT, UPDATE")
    _protect("insight.statement_evidence", "SELECT, INSERT")
    op.execute(f"REVOKE UPDATE, DELETE ON insight.evidence FROM {APP}")
    op.execute(
        f"GRANT UPDATE (superseded_at, superseded_by, updated_at) ON insight.evidence TO {APP}"
    )
    op.execute(f"GRANT SELECT, INSERT ON insight.prompts TO {APP}")


def downgrade() -> None:
    op.execute(
        "DELETE FROM audit.redacted_columns WHERE (table_name, column_name) IN"
        " (('insight.retrievals', 'body'), ('insight.evidence', 'excerpt'))"
    )
    op.execute("DROP TABLE insight.statement_evidence")
    op.execute("DROP TABLE insight.statements")
    op.execute("DROP TABLE insight.analysis_runs")
    op.execute("DROP TABLE insight.prompts")
    op.execute("DROP TRIGGER ledger_append_only ON insight.evidence")
    op.execute("DROP TRIGGER recommendation_needs_evidence ON insight.recommendations")
    op.execute("DROP TRIGGER evidence_of_the_same_check ON insight.recommendation_evidence")
    op.execute("DROP TRIGGER evidence_of_the_same_check_update ON insight.recommendation_evidence")
    op.execute("DROP FUNCTION insight.statement_needs_evidence()")
    op.execute("DROP FUNCTION insight.evidence_of_the_same_check()")
    op.execute("DELETE FROM insight.recommendation_evidence")
    op.execute("DELETE FROM insight.evidence")
    op.execute(f"GRANT UPDATE, DELETE ON insight.evidence TO {APP}")
    for column in (
        "retrieval_id", "fact_key", "value", "excerpt", "personal", "extractor",
        "extractor_version", "superseded_at", "superseded_by",
    ):  # fmt: skip
        op.drop_column("evidence", column, schema="insight")
    op.add_column("evidence", sa.Column("excerpt", sa.Text()), schema="insight")
    op.execute("ALTER TABLE insight.evidence ALTER COLUMN source_url TYPE varchar(1000)")
    op.execute("DROP TABLE insight.retrievals")
    op.execute("DROP FUNCTION insight.evidence_append_only()")
    op.drop_column("recommendations", "stale_at", schema="insight")
    _enum_check("insight.evidence", "evidence_source", "source", OLD_SOURCES)
    _enum_check("insight.analytics_snapshots", "snapshot_source", "source", OLD_SNAPSHOT_SOURCES)
    op.execute("DELETE FROM insight.benchmarks")
    op.execute(
        "ALTER TABLE insight.benchmarks"
        " DROP CONSTRAINT uq_benchmarks_vertical_category_region_metric_period_start"
    )
    op.drop_column("benchmarks", "category", schema="insight")
    op.drop_column("benchmarks", "tenant_count", schema="insight")
    op.create_unique_constraint(
        "uq_benchmarks_vertical_region_metric_period_start",
        "benchmarks",
        ["vertical", "region", "metric", "period_start"],
        schema="insight",
    )
    op.execute("DROP INDEX insight.ix_visibility_checks_queued")
    for column in (
        "requested_by", "doi_token_id", "confirmed_at", "started_at", "attempts", "analyser",
        "rubric_version", "failures", "error", "stale_at", "delivered_at",
    ):  # fmt: skip
        op.drop_column("visibility_checks", column, schema="insight")
    op.execute("DELETE FROM insight.visibility_checks WHERE status = 'awaiting_confirmation'")
    _enum_check("insight.visibility_checks", "visibility_check_status", "status", OLD_CHECK_STATUS)
    op.execute("ALTER TABLE insight.visibility_checks ALTER COLUMN status TYPE varchar(9)")
