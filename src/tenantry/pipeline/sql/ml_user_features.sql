-- seed 001 ml_user_features as of `feature_date` D, point-in-time correct: only days before D
-- (every event with event_ts < D 00:00 UTC = as_of_ts) count. 7-day windows cover
-- [D-7, D), 30-day windows [D-30, D). vc_score_delta_7d: the latest overall score in the
-- 7-day window minus the latest one in the 23 days before it. One row per user active in the
-- 30-day window; a user without one has all-zero activity features.
WITH w AS (
    SELECT * FROM cur_agg_window WHERE date_key NOT IN (SELECT date_key FROM affected)
    UNION ALL
    -- the processed dates (none when only the snapshot is rebuilt for a new as-of date)
    SELECT * FROM stg_agg_user_daily WHERE date_key IN (SELECT date_key FROM affected)
),
d AS (
    SELECT * FROM w WHERE date_key >= $k30 AND date_key < $kd
)
SELECT
    tenant_id,
    user_key,
    $as_of::DATE AS feature_date,
    $as_of_ts AS as_of_ts,
    coalesce(sum(steps_completed) FILTER (WHERE date_key >= $k7), 0)::INTEGER AS steps_completed_7d,
    coalesce(sum(email_opens) FILTER (WHERE date_key >= $k7), 0)::INTEGER AS email_opens_7d,
    coalesce(sum(email_clicks) FILTER (WHERE date_key >= $k7), 0)::INTEGER AS email_clicks_7d,
    (arg_max(vc_score_last, date_key) FILTER (WHERE date_key >= $k7 AND vc_score_last IS NOT NULL)
     - arg_max(vc_score_last, date_key) FILTER (WHERE date_key < $k7 AND vc_score_last IS NOT NULL)
    )::INTEGER AS vc_score_delta_7d,
    sum(steps_completed)::INTEGER AS steps_completed_30d,
    sum(email_opens)::INTEGER AS email_opens_30d,
    sum(email_clicks)::INTEGER AS email_clicks_30d,
    sum(logins)::INTEGER AS login_count_30d,
    round(sum(step_duration_sum) / nullif(sum(step_duration_n), 0), 2)::DOUBLE
        AS avg_step_duration_seconds,
    arg_max(tone_last, date_key) FILTER (WHERE tone_last IS NOT NULL) AS preferred_comm_tone,
    date_diff('day', make_date(max(date_key) // 10000, max(date_key) // 100 % 100,
                               max(date_key) % 100), $as_of::DATE)::INTEGER
        AS last_activity_days_ago,
    $now AS updated_at
FROM d
GROUP BY tenant_id, user_key
