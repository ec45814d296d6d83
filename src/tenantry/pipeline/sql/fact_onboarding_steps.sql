-- seed 001 fact_onboarding_steps: one row per onboarding event (a step started, completed,
-- skipped or abandoned, or the whole onboarding completed: its step_id is the event type).
WITH e AS (
    SELECT *, json_transform(properties, '{"step_id": "VARCHAR", "persona": "VARCHAR",
        "comm_prefs": "JSON", "duration_seconds": "INTEGER"}') AS p
    FROM batch
    WHERE event_type IN ({{ types:onboarding }})
      AND user_key IS NOT NULL
)
SELECT
    event_id,
    tenant_id,
    user_key,
    account_id,
    coalesce(p.step_id, event_type) AS step_id,
    {{ fact_type:onboarding }} AS event_type,
    p.persona AS persona,
    p.comm_prefs::VARCHAR AS comm_prefs,
    p.duration_seconds AS duration_seconds,
    event_ts,
    date_key
FROM e
