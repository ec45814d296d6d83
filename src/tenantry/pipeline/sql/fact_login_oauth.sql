-- seed 001 fact_login_oauth: one row per OAuth login attempt.
WITH e AS (
    SELECT *, json_transform(properties,
        '{"provider": "VARCHAR", "success": "BOOLEAN", "error_code": "VARCHAR"}') AS p
    FROM batch
    WHERE event_type IN ({{ types:login_oauth }})
)
SELECT
    event_id,
    tenant_id,
    user_key,
    coalesce(p.provider, 'unknown') AS provider,
    coalesce(p.success, false) AS success,
    p.error_code AS error_code,
    event_ts,
    date_key
FROM e
