-- seed 001 fact_visibility_check: one row per completed visibility check, sent by the app or
-- relayed from the outbox when tenantry ran the check. `user_key` is the visitor who asked for
-- it (their pseudonym); a check an operator started for a location has none.
WITH e AS (
    SELECT *, json_transform(properties, '{"check_id": "VARCHAR", "overall_score": "INTEGER",
        "gbp_score": "INTEGER", "social_score": "INTEGER", "web_score": "INTEGER",
        "competitor_count": "INTEGER", "processing_time_seconds": "INTEGER"}') AS p
    FROM batch
    WHERE event_type IN ({{ types:visibility }})
        AND (user_key IS NOT NULL OR source_channel = 'outbox')
)
SELECT
    coalesce(p.check_id, event_id) AS check_id,
    event_id,
    tenant_id,
    user_key,
    coalesce(account_id, tenant_id) AS account_id,
    location_id,
    p.overall_score AS overall_score,
    p.gbp_score AS gbp_score,
    p.social_score AS social_score,
    p.web_score AS web_score,
    p.competitor_count AS competitor_count,
    p.processing_time_seconds AS processing_time_seconds,
    event_ts,
    date_key
FROM e
