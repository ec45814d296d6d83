-- seed 001 dim_account: every business account (= tenant) seen in an event, with the
-- attributes of its latest `account_upserted` event (written by the database's outbox when the
-- tenant changes); merged with the published rows. price_range: the account's own if it has
-- one, else the most common price range of its locations.
WITH up AS (
    SELECT tenant_id, coalesce(account_id, tenant_id) AS account_id, event_ts,
           json_transform(properties, '{"business_name": "VARCHAR", "main_category": "VARCHAR",
               "price_range": "VARCHAR", "is_active": "BOOLEAN", "created_at": "TIMESTAMPTZ"}') AS p
    FROM batch WHERE event_type IN ({{ types:account }})
),
latest AS (
    SELECT tenant_id, account_id, arg_max(p, event_ts) AS p, max(event_ts) AS updated_at,
           min(p.created_at)::DATE AS created_at
    FROM up GROUP BY ALL
),
seen AS (
    SELECT tenant_id, coalesce(account_id, tenant_id) AS account_id, min(event_date) AS created_date
    FROM batch GROUP BY ALL
),
k AS (
    SELECT tenant_id, account_id FROM seen UNION SELECT tenant_id, account_id FROM cur_dim_account
),
loc AS (
    SELECT tenant_id, account_id, mode(price_range) AS price_range
    FROM stg_dim_location WHERE price_range IS NOT NULL GROUP BY ALL
),
merged AS (
    SELECT
        k.tenant_id,
        k.account_id,
        CASE WHEN l.updated_at >= c.updated_at OR c.updated_at IS NULL
             THEN l.p.business_name ELSE c.business_name END AS business_name,
        CASE WHEN l.updated_at >= c.updated_at OR c.updated_at IS NULL
             THEN l.p.main_category ELSE c.main_category END AS main_category,
        CASE WHEN l.updated_at >= c.updated_at OR c.updated_at IS NULL
             THEN l.p.price_range ELSE c.price_range END AS own_price_range,
        loc.price_range AS location_price_range,
        least(s.created_date, c.created_date, l.created_at) AS created_date,
        coalesce(CASE WHEN l.updated_at >= c.updated_at OR c.updated_at IS NULL
                      THEN l.p.is_active ELSE c.is_active END, true) AS is_active,
        greatest(l.updated_at, c.updated_at) AS updated_at
    FROM k
    LEFT JOIN latest l USING (tenant_id, account_id)
    LEFT JOIN seen s USING (tenant_id, account_id)
    LEFT JOIN cur_dim_account c USING (tenant_id, account_id)
    LEFT JOIN loc USING (tenant_id, account_id)
)
SELECT
    tenant_id,
    account_id,
    business_name,
    main_category,
    coalesce(own_price_range, location_price_range) AS price_range,
    created_date,
    is_active,
    updated_at
FROM merged
