-- The daily segment job of seed 001 section 5, as of the run's as-of date, for users who had
-- signed up before it. consent_state: the latest marketing-email consent event decides
-- 'marketing_opted_in' (unless it expired before the as-of instant); otherwise a confirmed
-- double opt-in ('email_verified') gives 'email_only'; otherwise 'unverified'. persona_current
-- only for active users.
SELECT
    tenant_id,
    user_key,
    $as_of::DATE AS segment_date,
    date_diff('day', signup_date, $as_of::DATE)::INTEGER AS onb_day,
    CASE
        WHEN date_diff('day', signup_date, $as_of::DATE) = 0 THEN '0'
        WHEN date_diff('day', signup_date, $as_of::DATE) <= 3 THEN '1-3'
        WHEN date_diff('day', signup_date, $as_of::DATE) <= 7 THEN '4-7'
        WHEN date_diff('day', signup_date, $as_of::DATE) <= 14 THEN '8-14'
        ELSE '15+'
    END AS onb_day_bucket,
    CASE
        WHEN steps_completed >= 10 THEN 'high'
        WHEN steps_completed >= 5 THEN 'medium'
        ELSE 'low'
    END AS engagement_level,
    CASE
        WHEN marketing_consent
             AND (marketing_consent_expires_at IS NULL OR marketing_consent_expires_at > $as_of_ts)
            THEN 'marketing_opted_in'
        WHEN email_verified THEN 'email_only'
        ELSE 'unverified'
    END AS consent_state,
    CASE WHEN is_active THEN persona END AS persona_current
FROM stg_dim_user
WHERE signup_date < $as_of::DATE
