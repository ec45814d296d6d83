-- The events of the dates being processed, in one shape, restricted to the vocabulary's types:
-- client events from the raw event table (`raw_batch`) and database changes from the raw
-- domain-event table (`domain_batch`, the relayed outbox: consent, accounts, locations). Both
-- are already pruned to those dates. Outbox payloads name the subject only as `user_key`.
-- Completed visibility checks come from both: the app may send them, and tenantry's own checks
-- reach the outbox (`source_channel` tells which).
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
    properties,
    'ingest' AS source_channel
FROM raw_batch
WHERE event_type IN ({{ ingested }})
UNION ALL
SELECT
    event_id,
    tenant_id,
    tenant_id AS account_id,
    CASE WHEN event_type IN ({{ types:location }}) THEN aggregate_id
         WHEN event_type IN ({{ types:visibility }}) THEN payload->>'location_id' END AS location_id,
    payload->>'user_key' AS user_key,
    event_type,
    occurred_at AS event_ts,
    event_date,
    (year(event_date) * 10000 + month(event_date) * 100 + day(event_date))::INTEGER AS date_key,
    CASE WHEN payload->>'gbp_place_id' IS NOT NULL
         THEN json_object('gbp_place_id', payload->>'gbp_place_id')::VARCHAR END AS external_ids,
    payload AS properties,
    'outbox' AS source_channel
FROM domain_batch
WHERE event_type IN ({{ outbox }}) OR event_type IN ({{ types:visibility }})
