-- seed 001 fact_email_events. The seed's email_lower never enters the lake: `email_hash` is
-- the keyed HMAC that ingestion put into the event's properties.
WITH e AS (
    SELECT *, json_transform(properties, '{"email_hash": "VARCHAR", "campaign_id": "VARCHAR",
        "copy_variant": "VARCHAR", "subject_variant": "VARCHAR"}') AS p
    FROM batch
    WHERE event_type LIKE 'email\_%' ESCAPE '\' AND event_type <> 'email_verified'
)
SELECT
    event_id,
    tenant_id,
    user_key,
    p.email_hash AS email_hash,
    p.campaign_id AS campaign_id,
    CASE event_type
        WHEN 'email_opened' THEN 'open'
        WHEN 'email_clicked' THEN 'click'
        WHEN 'email_bounced' THEN 'bounce'
        WHEN 'email_complained' THEN 'complaint'
        WHEN 'email_unsubscribed' THEN 'unsubscribe'
        ELSE replace(event_type, 'email_', '')
    END AS event_type,
    p.copy_variant AS copy_variant,
    p.subject_variant AS subject_variant,
    event_ts,
    date_key
FROM e
WHERE p.email_hash IS NOT NULL
