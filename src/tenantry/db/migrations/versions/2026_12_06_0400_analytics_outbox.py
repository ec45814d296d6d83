"""Analytics outbox: consent, accounts and locations enter `events.outbox` with their change.

Triggers write the outbox rows in the same transaction as the change, whatever path made it
(services, the API, the seed's COPY, plain SQL): a consent decision (`consent_granted`,
`consent_withdrawn`, and `email_verified` for a confirmed double opt-in), a tenant, which is
the business account (`account_upserted`), and a location (`location_upserted`). Updates that
change nothing the analytics read write nothing. As ingestion does for events, a subject's
consent decisions reach the outbox only while the subject allows analytics (the decision on
`analytics` itself always does, so a withdrawal is heard). Payloads hold no personal data:
the subject only as its pseudonym (`user_key`), accounts and locations only business
attributes (no phone, no e-mail). The event names and payload keys are those of
`tenantry.lake.vocabulary` (a test compares the installed functions with it). Existing rows
are backfilled once.

Revision ID: 0400
Revises: 0300
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0400"
down_revision: str | None = "0300"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FUNCTIONS = """
CREATE FUNCTION events.account_payload(t identity.tenants) RETURNS jsonb
LANGUAGE sql STABLE SET search_path = pg_catalog AS $$
    SELECT jsonb_build_object(
        'business_name', t.display_name,
        'main_category', t.vertical::text,
        'is_active', t.status::text IN ('trial', 'active') AND t.deleted_at IS NULL,
        'created_at', t.created_at)
$$;

CREATE FUNCTION events.location_payload(l identity.locations) RETURNS jsonb
LANGUAGE sql STABLE SET search_path = pg_catalog AS $$
    SELECT jsonb_strip_nulls(jsonb_build_object(
        'address', nullif(concat_ws(' ', l.street, l.house_number), ''),
        'city', l.city,
        'country', l.country,
        'latitude', l.latitude,
        'longitude', l.longitude,
        'price_range', repeat('€', l.price_range),
        'gbp_place_id', l.google_place_id,
        'is_active', l.is_active AND l.deleted_at IS NULL))
$$;

CREATE FUNCTION events.outbox_account() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog AS $$
DECLARE
    v_payload jsonb := events.account_payload(NEW);
BEGIN
    IF TG_OP = 'UPDATE' AND v_payload = events.account_payload(OLD) THEN
        RETURN NULL;
    END IF;
    INSERT INTO events.outbox
        (tenant_id, id, aggregate_type, aggregate_id, event_type, payload, occurred_at)
    VALUES (NEW.id, gen_random_uuid(), 'account', NEW.id, 'account_upserted', v_payload, now());
    RETURN NULL;
END
$$;

CREATE FUNCTION events.outbox_location() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog AS $$
DECLARE
    v_payload jsonb := events.location_payload(NEW);
BEGIN
    IF TG_OP = 'UPDATE' AND v_payload = events.location_payload(OLD) THEN
        RETURN NULL;
    END IF;
    INSERT INTO events.outbox
        (tenant_id, id, aggregate_type, aggregate_id, event_type, payload, occurred_at)
    VALUES (NEW.tenant_id, gen_random_uuid(), 'location', NEW.id, 'location_upserted',
            v_payload, now());
    RETURN NULL;
END
$$;

CREATE FUNCTION events.outbox_consent() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog AS $$
BEGIN
    INSERT INTO events.outbox
        (tenant_id, id, aggregate_type, aggregate_id, event_type, payload, occurred_at)
    SELECT n.tenant_id, gen_random_uuid(), 'consent', n.id, e.event_type,
           jsonb_strip_nulls(jsonb_build_object(
               'user_key', s.pseudonym,
               'purpose', n.purpose::text,
               'decision', n.decision::text,
               'expires_at', n.expires_at)),
           n.recorded_at
    FROM new_entries n
    JOIN privacy.subjects s ON s.tenant_id = n.tenant_id AND s.id = n.subject_id
        AND (n.purpose::text = 'analytics' OR EXISTS (
            SELECT 1 FROM privacy.active_consents a
            WHERE a.tenant_id = n.tenant_id AND a.subject_id = n.subject_id
              AND a.purpose::text = 'analytics'))
    CROSS JOIN LATERAL (
        SELECT CASE WHEN n.decision::text = 'granted' THEN 'consent_granted'
                    ELSE 'consent_withdrawn' END
        UNION ALL
        SELECT 'email_verified' WHERE n.doi_token_id IS NOT NULL AND n.decision::text = 'granted'
    ) e(event_type)
    ORDER BY n.recorded_at, n.id, e.event_type;
    RETURN NULL;
END
$$;
"""

TRIGGERS = """
CREATE TRIGGER outbox_account AFTER INSERT OR UPDATE ON identity.tenants
    FOR EACH ROW EXECUTE FUNCTION events.outbox_account();
CREATE TRIGGER outbox_location AFTER INSERT OR UPDATE ON identity.locations
    FOR EACH ROW EXECUTE FUNCTION events.outbox_location();
CREATE TRIGGER outbox_consent AFTER INSERT ON privacy.consent_journal
    REFERENCING NEW TABLE AS new_entries
    FOR EACH STATEMENT EXECUTE FUNCTION events.outbox_consent();
"""

# Rows that existed before the triggers: one event each, so the lake starts complete.
BACKFILL = """
INSERT INTO events.outbox
    (tenant_id, id, aggregate_type, aggregate_id, event_type, payload, occurred_at)
SELECT t.id, gen_random_uuid(), 'account', t.id, 'account_upserted',
       events.account_payload(t), now()
FROM identity.tenants t;

INSERT INTO events.outbox
    (tenant_id, id, aggregate_type, aggregate_id, event_type, payload, occurred_at)
SELECT l.tenant_id, gen_random_uuid(), 'location', l.id, 'location_upserted',
       events.location_payload(l), now()
FROM identity.locations l;

INSERT INTO events.outbox
    (tenant_id, id, aggregate_type, aggregate_id, event_type, payload, occurred_at)
SELECT n.tenant_id, gen_random_uuid(), 'consent', n.id, e.event_type,
       jsonb_strip_nulls(jsonb_build_object(
           'user_key', s.pseudonym, 'purpose', n.purpose::text,
           'decision', n.decision::text, 'expires_at', n.expires_at)),
       n.recorded_at
FROM privacy.consent_journal n
JOIN privacy.subjects s ON s.tenant_id = n.tenant_id AND s.id = n.subject_id
    AND (n.purpose::text = 'analytics' OR EXISTS (
        SELECT 1 FROM privacy.active_consents a
        WHERE a.tenant_id = n.tenant_id AND a.subject_id = n.subject_id
          AND a.purpose::text = 'analytics'))
CROSS JOIN LATERAL (
    SELECT CASE WHEN n.decision::text = 'granted' THEN 'consent_granted'
                ELSE 'consent_withdrawn' END
    UNION ALL
    SELECT 'email_verified' WHERE n.doi_token_id IS NOT NULL AND n.decision::text = 'granted'
) e(event_type)
WHERE s.erased_at IS NULL
ORDER BY n.recorded_at, n.id;
"""


def upgrade() -> None:
    op.execute(FUNCTIONS)
    op.execute(TRIGGERS)
    op.execute(BACKFILL)


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS outbox_consent ON privacy.consent_journal")
    op.execute("DROP TRIGGER IF EXISTS outbox_location ON identity.locations")
    op.execute("DROP TRIGGER IF EXISTS outbox_account ON identity.tenants")
    for fn in (
        "events.outbox_consent()",
        "events.outbox_location()",
        "events.outbox_account()",
        "events.location_payload(identity.locations)",
        "events.account_payload(identity.tenants)",
    ):
        op.execute(f"DROP FUNCTION IF EXISTS {fn}")
