-- The raw events of the dates being processed, restricted to the event types the star schema
-- reads. `raw_batch` is the raw Delta table's Arrow dataset, already pruned to those dates.
SELECT
    event_id,
    tenant_id,
    account_id,
    location_id,
    user_key,
    event_type,
    event_ts,
    event_date,
    (year(event_date) * 10000 + month(event_date) * 100 + day(event_date))::INTEGER AS date_key,
    external_ids,
    properties
FROM raw_batch
WHERE event_type IN (
    'step_started', 'step_completed', 'step_skipped',
    'visibility_check_completed',
    'email_sent', 'email_delivered', 'email_opened', 'email_clicked', 'email_bounced',
    'email_complained', 'email_unsubscribed',
    'oauth_login',
    'consent_granted', 'consent_withdrawn', 'email_verified',
    'account_upserted', 'location_upserted'
)
