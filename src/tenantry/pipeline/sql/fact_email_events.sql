-- seed 001 fact_email_events. The seed's email_lower never enters the lake: `email_hash` is
-- the keyed HMAC that ingestion put into the event's properties as `email_key`.
WITH e AS (
    SELECT *, json_transform(properties, '{"email_key": "VARCHAR", "campaign_id": "VARCHAR",
        "copy_variant": "VARCHAR", "subject_variant": "VARCHAR"}') AS p
    FROM batch
    WHERE event_type IN ({{ types:email }})
)
SELECT
    event_id,
    tenant_id,
    user_key,
    p.email_key AS email_hash,
    p.campaign_id AS campaign_id,
    {{ fact_type:email }} AS event_type,
    p.copy_variant AS copy_variant,
    p.subject_variant AS subject_variant,
    event_ts,
    date_key
FROM e
WHERE p.email_key IS NOT NULL
