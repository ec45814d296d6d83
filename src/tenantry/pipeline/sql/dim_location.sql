-- seed 001 dim_location: every location seen in an event, with the attributes of its latest
-- `location_upserted` event (written by the database's outbox when the location changes; the
-- GBP place id from the event's external ids); merged with the published rows.
WITH up AS (
    SELECT tenant_id, location_id, coalesce(account_id, tenant_id) AS account_id, event_ts,
           json_transform(properties, '{"address": "VARCHAR", "city": "VARCHAR",
               "country": "VARCHAR", "latitude": "DOUBLE", "longitude": "DOUBLE",
               "price_range": "VARCHAR"}') AS p,
           external_ids->>'gbp_place_id' AS gbp_place_id
    FROM batch WHERE event_type IN ({{ types:location }}) AND location_id IS NOT NULL
),
latest AS (
    SELECT tenant_id, location_id, arg_max(account_id, event_ts) AS account_id,
           arg_max(p, event_ts) AS p, arg_max(gbp_place_id, event_ts) AS gbp_place_id,
           max(event_ts) AS updated_at
    FROM up GROUP BY ALL
),
seen AS (
    SELECT tenant_id, location_id, any_value(coalesce(account_id, tenant_id)) AS account_id
    FROM batch WHERE location_id IS NOT NULL GROUP BY ALL
),
k AS (
    SELECT tenant_id, location_id FROM seen UNION SELECT tenant_id, location_id FROM cur_dim_location
),
newer AS (
    SELECT k.tenant_id, k.location_id, l.p, l.gbp_place_id, l.updated_at,
           coalesce(l.account_id, c.account_id, s.account_id) AS account_id,
           l.updated_at IS NOT NULL AND (c.updated_at IS NULL OR l.updated_at >= c.updated_at)
               AS take_new,
           c.address, c.city, c.country, c.gbp_place_id AS c_gbp, c.latitude, c.longitude,
           c.price_range,
           c.updated_at AS c_updated_at
    FROM k
    LEFT JOIN latest l USING (tenant_id, location_id)
    LEFT JOIN seen s USING (tenant_id, location_id)
    LEFT JOIN cur_dim_location c USING (tenant_id, location_id)
)
SELECT
    tenant_id,
    location_id,
    account_id,
    CASE WHEN take_new THEN p.address ELSE address END AS address,
    CASE WHEN take_new THEN p.city ELSE city END AS city,
    CASE WHEN take_new THEN p.country ELSE country END AS country,
    CASE WHEN take_new THEN gbp_place_id ELSE c_gbp END AS gbp_place_id,
    CASE WHEN take_new THEN p.latitude ELSE latitude END AS latitude,
    CASE WHEN take_new THEN p.longitude ELSE longitude END AS longitude,
    CASE WHEN take_new THEN p.price_range ELSE price_range END AS price_range,
    greatest(updated_at, c_updated_at) AS updated_at
FROM newer
