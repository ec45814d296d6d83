-- seed 001 fact_onboarding_steps: one row per onboarding step event.
WITH e AS (
    SELECT *, json_transform(properties, '{"step_id": "VARCHAR", "persona": "VARCHAR",
        "comm_prefs": "JSON", "duration_seconds": "INTEGER"}') AS p
    FROM batch
    WHERE event_type IN ('step_started', 'step_completed', 'step_skipped')
      AND user_key IS NOT NULL
)
SELECT
    event_id,
    tenant_id,
    user_key,
    account_id,
    coalesce(p.step_id, 'unknown') AS step_id,
    replace(event_type, 'step_', '') AS event_type,
    p.persona AS persona,
    p.comm_prefs::VARCHAR AS comm_prefs,
    p.duration_seconds AS duration_seconds,
    event_ts,
    date_key
FROM e
