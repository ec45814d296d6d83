-- Per user and day: the additive measures the features and segments need. Internal table; it
-- lets feature windows read days instead of events.
WITH u AS (
    SELECT tenant_id, user_key, date_key, event_ts,
           (event_type = {{ fact:step_completed }})::INTEGER AS steps,
           CASE WHEN event_type = {{ fact:step_completed }} THEN duration_seconds END AS duration,
           comm_prefs->>'tone' AS tone,
           0 AS opens, 0 AS clicks, 0 AS logins, NULL::INTEGER AS vc
    FROM stg_fact_onboarding_steps
    UNION ALL
    SELECT tenant_id, user_key, date_key, event_ts, 0, NULL, NULL,
           (event_type = {{ fact:email_open }})::INTEGER, (event_type = {{ fact:email_click }})::INTEGER, 0, NULL
    FROM stg_fact_email_events WHERE user_key IS NOT NULL
    UNION ALL
    SELECT tenant_id, user_key, date_key, event_ts, 0, NULL, NULL, 0, 0, success::INTEGER, NULL
    FROM stg_fact_login_oauth WHERE user_key IS NOT NULL
    UNION ALL
    SELECT tenant_id, user_key, date_key, event_ts, 0, NULL, NULL, 0, 0, 0, overall_score
    FROM stg_fact_visibility_check WHERE user_key IS NOT NULL
)
SELECT
    tenant_id,
    user_key,
    date_key,
    sum(steps)::INTEGER AS steps_completed,
    coalesce(sum(duration), 0)::BIGINT AS step_duration_sum,
    count(duration)::INTEGER AS step_duration_n,
    sum(opens)::INTEGER AS email_opens,
    sum(clicks)::INTEGER AS email_clicks,
    sum(logins)::INTEGER AS logins,
    arg_max(vc, event_ts) FILTER (WHERE vc IS NOT NULL) AS vc_score_last,
    arg_max(tone, event_ts) FILTER (WHERE tone IS NOT NULL) AS tone_last
FROM u
GROUP BY tenant_id, user_key, date_key
