-- seed 001 dim_user, merged incrementally: the published rows (`cur_dim_user`) combined with
-- what the processed dates say. First/last seen, last login and the latest persona, preferences
-- and consent are order-independent merges, so re-processing a date changes nothing. The step
-- total is adjusted by the difference between the new and the previously published daily
-- aggregates of the processed dates (published together with agg_user_daily).
WITH delta AS (
    SELECT tenant_id, user_key, sum(steps)::BIGINT AS steps
    FROM (
        SELECT tenant_id, user_key, steps_completed AS steps FROM stg_agg_user_daily
        UNION ALL
        SELECT tenant_id, user_key, -steps_completed FROM cur_agg_affected
    )
    GROUP BY ALL
),
a AS (
    SELECT tenant_id, user_key, event_ts, NULL AS persona, NULL AS prefs, NULL AS email_hash,
           event_type IN ({{ types:login }})
               AND coalesce(json_extract(properties, '$.success')::BOOLEAN, true) AS login,
           NULL::BOOLEAN AS consent, NULL::TIMESTAMPTZ AS expires, false AS verified
    FROM batch
    WHERE user_key IS NOT NULL
      AND event_type NOT IN ({{ types:onboarding }}, {{ types:consent }}, {{ types:verified }})
    UNION ALL
    SELECT tenant_id, user_key, event_ts, persona, comm_prefs, NULL, false, NULL, NULL, false
    FROM stg_fact_onboarding_steps
    UNION ALL
    SELECT tenant_id, user_key, event_ts, NULL, NULL, NULL, false,
           CASE WHEN event_type IN ({{ types:consent }})
                 AND properties->>'purpose' = {{ marketing_purpose }}
                THEN event_type = {{ name:consent_granted }} END,
           CASE WHEN event_type IN ({{ types:consent }})
                 AND properties->>'purpose' = {{ marketing_purpose }}
                THEN (properties->>'expires_at')::TIMESTAMPTZ END,
           event_type IN ({{ types:verified }})
    FROM batch
    WHERE user_key IS NOT NULL
      AND event_type IN ({{ types:consent }}, {{ types:verified }})
),
b AS (
    SELECT * FROM a
    UNION ALL
    SELECT tenant_id, user_key, NULL, NULL, NULL, email_hash, false, NULL, NULL, false
    FROM stg_fact_email_events WHERE user_key IS NOT NULL AND email_hash IS NOT NULL
    UNION ALL
    SELECT tenant_id, user_key, event_ts, NULL, NULL, NULL, true, NULL, NULL, false
    FROM stg_fact_login_oauth WHERE success AND user_key IS NOT NULL
),
n AS (
    SELECT tenant_id, user_key,
           min(event_ts) AS first_seen,
           max(event_ts) AS last_seen,
           arg_max(persona, event_ts) FILTER (WHERE persona IS NOT NULL) AS persona,
           arg_max(prefs, event_ts) FILTER (WHERE persona IS NOT NULL) AS communication_prefs,
           max(event_ts) FILTER (WHERE persona IS NOT NULL) AS prefs_at,
           max(email_hash) AS email_hash,
           max(event_ts) FILTER (WHERE login) AS last_login,
           arg_max(consent, event_ts) FILTER (WHERE consent IS NOT NULL) AS marketing_consent,
           arg_max(expires, event_ts) FILTER (WHERE consent IS NOT NULL)
               AS marketing_consent_expires_at,
           max(event_ts) FILTER (WHERE consent IS NOT NULL) AS consent_at,
           bool_or(verified) AS email_verified
    FROM b
    GROUP BY tenant_id, user_key
),
merged AS (
    SELECT
        tenant_id,
        user_key,
        coalesce(n.email_hash, c.email_hash) AS email_hash,
        CASE WHEN n.prefs_at IS NOT NULL AND (c.prefs_at IS NULL OR n.prefs_at >= c.prefs_at)
             THEN n.persona ELSE c.persona END AS persona,
        CASE WHEN n.prefs_at IS NOT NULL AND (c.prefs_at IS NULL OR n.prefs_at >= c.prefs_at)
             THEN n.communication_prefs ELSE c.communication_prefs END AS communication_prefs,
        greatest(n.prefs_at, c.prefs_at) AS prefs_at,
        least(n.first_seen, c.first_seen) AS first_seen,
        greatest(n.last_seen, c.last_seen) AS last_seen,
        greatest(n.last_login, c.last_login) AS last_login,
        (coalesce(c.steps_completed, 0) + coalesce(d.steps, 0))::BIGINT AS steps_completed,
        CASE WHEN n.consent_at IS NOT NULL AND (c.consent_at IS NULL OR n.consent_at >= c.consent_at)
             THEN n.marketing_consent ELSE c.marketing_consent END AS marketing_consent,
        CASE WHEN n.consent_at IS NOT NULL AND (c.consent_at IS NULL OR n.consent_at >= c.consent_at)
             THEN n.marketing_consent_expires_at ELSE c.marketing_consent_expires_at END
            AS marketing_consent_expires_at,
        greatest(n.consent_at, c.consent_at) AS consent_at,
        coalesce(n.email_verified, false) OR coalesce(c.email_verified, false) AS email_verified
    FROM n
    FULL JOIN cur_dim_user c USING (tenant_id, user_key)
    LEFT JOIN delta d USING (tenant_id, user_key)
)
SELECT
    tenant_id,
    user_key,
    email_hash,
    first_seen::DATE AS signup_date,
    persona,
    communication_prefs,
    prefs_at,
    last_seen >= $as_of_ts - INTERVAL 30 DAY AS is_active,
    first_seen,
    last_seen,
    last_login,
    steps_completed,
    marketing_consent,
    consent_at,
    email_verified,
    marketing_consent_expires_at
FROM merged
